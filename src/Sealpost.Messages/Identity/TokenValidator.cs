using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Sealpost.Protocol;

namespace Sealpost.Messages.Identity;

/// <summary>
/// Who a valid access token names, on which device (<c>dev</c>; 1 when it has none), until when, and for which session
/// (<c>sid</c>; empty when it has none).
/// </summary>
internal readonly record struct TokenIdentity(string Username, DateTimeOffset ExpiresAt, Guid Session, int Device = DeviceAddress.FirstDevice)
{
    /// <summary>The device's name in the messages service (<see cref="DeviceAddress"/>).</summary>
    public string Address => DeviceAddress.Of(Username, Device);
}

/// <summary>
/// Verifies the users service's ES256 access tokens against its JWKS, fetched once and cached; an unknown key id
/// triggers a refetch (at most every few seconds), so a rotated signing key is picked up without a restart.
/// The messages service never reads the users database.
/// </summary>
internal sealed partial class TokenValidator(HttpClient http, IOptions<UsersOptions> options, TimeProvider clock, ILogger<TokenValidator> logger)
{
    private static readonly TimeSpan MinRefetchInterval = TimeSpan.FromSeconds(5);
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly SemaphoreSlim _fetchLock = new(1, 1);
    private IReadOnlyList<SecurityKey> _keys = [];
    private DateTimeOffset _fetchedAt = DateTimeOffset.MinValue;

    public async Task<TokenIdentity?> ValidateAsync(string? token, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 4096) return null;
        var result = await TryAsync(token);
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException && await RefreshKeysAsync(force: true, ct))
            result = await TryAsync(token);
        if (!result.IsValid || result.ClaimsIdentity.FindFirst(JwtRegisteredClaimNames.Sub)?.Value is not { } username) return null;
        var session = Guid.TryParse(result.ClaimsIdentity.FindFirst(TokenClaims.Session)?.Value, out var sid) ? sid : Guid.Empty;
        var device = DeviceAddress.FirstDevice;
        if (result.ClaimsIdentity.FindFirst(TokenClaims.Device)?.Value is { } dev
            && (!int.TryParse(dev, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out device) || device < 1))
            return null;
        return new TokenIdentity(username, new DateTimeOffset(((JsonWebToken)result.SecurityToken).ValidTo, TimeSpan.Zero), session, device);
    }

    private async Task<TokenValidationResult> TryAsync(string token)
    {
        if (_keys.Count == 0) await RefreshKeysAsync(force: false, CancellationToken.None);
        var o = options.Value;
        return await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = o.Issuer,
            ValidAudience = o.Audience,
            IssuerSigningKeys = _keys,
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
            RequireExpirationTime = true,
            // No skew: a socket lives exactly until its token's expiry, so a token past it must not open one.
            ClockSkew = TimeSpan.Zero,
            LifetimeValidator = (notBefore, expires, _, p) =>
                expires is { } e && e.ToUniversalTime() > clock.GetUtcNow().UtcDateTime - p.ClockSkew
                && (notBefore is not { } nb || nb.ToUniversalTime() <= clock.GetUtcNow().UtcDateTime + TimeSpan.FromSeconds(30)),
        });
    }

    private async Task<bool> RefreshKeysAsync(bool force, CancellationToken ct)
    {
        await _fetchLock.WaitAsync(ct);
        try
        {
            if (force ? clock.GetUtcNow() - _fetchedAt < MinRefetchInterval : _keys.Count > 0) return false;
            _fetchedAt = clock.GetUtcNow();
            var json = await http.GetStringAsync(new Uri(options.Value.BaseUrl, "/.well-known/jwks.json"), ct);
            _keys = [.. new JsonWebKeySet(json).GetSigningKeys()];
            return true;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or ArgumentException or TaskCanceledException)
        {
            LogJwksUnavailable(logger, e.Message);
            return false;
        }
        finally
        {
            _fetchLock.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not fetch the users service's JWKS: {Reason}")]
    private static partial void LogJwksUnavailable(ILogger logger, string reason);
}
