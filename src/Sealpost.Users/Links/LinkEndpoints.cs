using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Sealpost.Crypto;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;
using Sealpost.Users.Accounts;
using Sealpost.Users.Sessions;

namespace Sealpost.Users.Links;

/// <summary>
/// Linking a new device (docs/devices.md, step by step): the new device makes a link and polls it; a signed-in device
/// of the account fetches it (reserving the device id), and approves it with the certificate and the sealed secret.
/// </summary>
public static partial class LinkEndpoints
{
    /// <summary>The smallest and largest sealed link secret: HPKE's encapsulated key and tag around 0 to 64 KiB.</summary>
    public const int SealedSecretMinBytes = Hpke.EncapsulatedKeySize + Hpke.TagSize;

    public const int SealedSecretMaxBytes = SealedSecretMinBytes + LinkSecret.MaxPayloadSize;

    /// <summary>The approve body carries the sealed secret in base64url: more than every other body's 16 KiB.</summary>
    public const int ApproveBodyMaxBytes = 96 * 1024;

    public static IEndpointRouteBuilder MapLinkEndpoints(this IEndpointRouteBuilder app)
    {
        var links = app.MapGroup("/v1/links").WithTags("Links").WithNoStore();
        links.MapPost("/", Create).Accepts<CreateLinkRequest>("application/json");
        links.MapGet("/{linkId}", Fetch).RequireAuthorization();
        links.MapPost("/{linkId}/approve", Approve).RequireAuthorization().Accepts<ApproveLinkRequest>("application/json");
        links.MapPost("/{linkId}/poll", Poll).Accepts<PollLinkRequest>("application/json");
        return app;
    }

    /// <summary>
    /// Anyone may ask (the new device has no account yet), naming the account to join; HAProxy limits it per client
    /// address, like registrations. That an account exists is public already (GET /v1/accounts/{username}).
    /// </summary>
    private static async Task<Results<Created<CreatedLink>, ProblemHttpResult>> Create(HttpRequest request, [AsParameters] LinkServices s, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.CreateLinkRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var name = AccountFields.DeviceName(errors, "device_name", body!.DeviceName);
        var key = AccountFields.PublicKey(errors, body.PublicKey);
        var username = AccountFields.Username(errors, body.Username);
        if (errors.Any) return errors.ToProblem();
        var account = await s.Accounts.FindAsync(username!, ct);
        if (account is null) return AccountEndpoints.NoSuchAccount();
        var id = Guid.NewGuid();
        var pollToken = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var expiresAt = await s.Links.CreateAsync(id, SessionStore.HashOf(pollToken), name!, key!, account.Id, s.Options.Value.Lifetime, ct);
        LogCreated(s.Logger, id, ClientAddress.Of(request.HttpContext));
        return TypedResults.Created($"/v1/links/{id}", new CreatedLink(id.ToString(), pollToken, expiresAt));
    }

    /// <summary>
    /// What the new device asked with, and the device id reserved for it in the caller's account. Only the account the
    /// new device named may fetch it; any other is told there is no such link (security review L2).
    /// </summary>
    private static async Task<Results<Ok<PendingLink>, ProblemHttpResult>> Fetch(
        string linkId, HttpRequest request, ClaimsPrincipal user, [AsParameters] LinkServices s, CancellationToken ct)
    {
        if (ParseId(linkId) is not { } id) return BadLinkId();
        var account = await s.Accounts.FindAsync(user.Identity!.Name!, ct);
        if (account is null) return AccountEndpoints.NoSuchAccount();
        var (outcome, link) = await s.Links.ReserveAsync(id, account.Id, Limits.DevicesMax, ct);
        if (outcome != LinkOutcome.Done) return Refused(outcome);
        LogFetched(s.Logger, id, account.Username, link!.DeviceId!.Value, ClientAddress.Of(request.HttpContext));
        return TypedResults.Ok(new PendingLink(link.Id.ToString(), link.DeviceName, AccountRules.EncodePublicKey(link.PublicKey), link.DeviceId.Value, link.ExpiresAt));
    }

    /// <summary>
    /// The certificate must verify under the account's identity key for (username, the reserved device id, key id 1,
    /// the key the new device asked with): the server refuses garbage, the new device checks again. Approving the same
    /// link again with the same certificate changes nothing, so a retry after a lost answer is harmless.
    /// </summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> Approve(
        string linkId, HttpRequest request, ClaimsPrincipal user, [AsParameters] LinkServices s, CancellationToken ct)
    {
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = ApproveBodyMaxBytes;
        if (ParseId(linkId) is not { } id) return BadLinkId();
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.ApproveLinkRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var certificate = AccountFields.Bytes(errors, "certificate", body!.Certificate, IdentityKey.SignatureSize, "An Ed25519 signature");
        var sealedSecret = AccountFields.Bytes(errors, "sealed_secret", body.SealedSecret, SealedSecretMinBytes, SealedSecretMaxBytes,
            $"A sealed link secret: {SealedSecretMinBytes} to {SealedSecretMaxBytes} bytes, base64url.");
        if (errors.Any) return errors.ToProblem();

        var account = await s.Accounts.FindAsync(user.Identity!.Name!, ct);
        if (account is null) return AccountEndpoints.NoSuchAccount();
        if (account.IdentityKey is not { } identity)
        {
            return Problems.Of(StatusCodes.Status409Conflict, "no-identity", "The account has no identity key to certify a new device with.",
                "Set one first: PUT /v1/accounts/me/identity.");
        }
        var link = await s.Links.FindAsync(id, ct);
        if (link is null || !link.IsFor(account.Id)) return Refused(LinkOutcome.Unknown);
        if (link.Approved && !link.Gone && link.AccountId == account.Id && link.Certificate.AsSpan().SequenceEqual(certificate)) return TypedResults.NoContent();
        if (link.Gone || link.Approved) return Refused(LinkOutcome.Gone);
        if (link.AccountId is null) return Refused(LinkOutcome.NotReserved);
        if (link.AccountId != account.Id) return Refused(LinkOutcome.TakenByAnotherAccount);
        var deviceId = link.DeviceId!.Value;
        if (!DeviceCertificate.Verify(identity, new DeviceKey(account.Username, (uint)deviceId, 1, link.PublicKey), certificate))
        {
            return Problems.Validation("certificate",
                $"Does not verify under the account's identity key for device {deviceId}'s key id 1 (the key the new device asked with).");
        }
        var outcome = await s.Links.ApproveAsync(id, account.Id, deviceId, certificate!, sealedSecret!, Limits.DevicesMax, ct);
        if (outcome != LinkOutcome.Done) return Refused(outcome);
        s.Events.DevicesChanged(account.Username);
        LogApproved(s.Logger, id, account.Username, deviceId, ClientAddress.Of(request.HttpContext));
        return TypedResults.NoContent();
    }

    /// <summary>
    /// The new device asks, with the poll token only it got: pending, or approved once (with the sealed secret and a
    /// session for the new device), then gone. A wrong token is answered as an unknown link.
    /// </summary>
    private static async Task<Results<Ok<LinkStatus>, ProblemHttpResult>> Poll(string linkId, HttpRequest request, [AsParameters] LinkServices s, CancellationToken ct)
    {
        if (ParseId(linkId) is not { } id) return BadLinkId();
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.PollLinkRequest, ct);
        if (problem is not null) return problem;
        if (body!.PollToken is not { Length: > 0 and <= 128 } token) return Problems.Validation("poll_token", "Required: the poll_token POST /v1/links answered.");

        var link = await s.Links.FindAsync(id, ct);
        if (link is null || !CryptographicOperations.FixedTimeEquals(link.PollHash, SessionStore.HashOf(token))) return Refused(LinkOutcome.Unknown);
        if (link.Gone) return Refused(LinkOutcome.Gone);
        if (!link.Approved) return TypedResults.Ok(new LinkStatus(LinkStatus.Pending));

        var sessionId = Guid.CreateVersion7();
        var refreshToken = SessionStore.NewRefreshToken();
        var refreshExpires = s.Tokens.FirstRefreshExpiry();
        if (await s.Links.UseAsync(id, sessionId, SessionStore.HashOf(refreshToken), refreshExpires, ct) is not var (username, deviceId, sealedSecret))
            return Refused(LinkOutcome.Gone);
        LogUsed(s.Logger, id, username, deviceId, ClientAddress.Of(request.HttpContext), sessionId);
        var session = SessionEndpoints.Respond(s.Issuer, username, sessionId, deviceId, refreshToken, refreshExpires);
        return TypedResults.Ok(new LinkStatus(LinkStatus.Approved, username, deviceId, Base64Url.EncodeToString(sealedSecret), session));
    }

    private static Guid? ParseId(string value) => value.Length <= 64 && Guid.TryParse(value, out var id) ? id : null;

    private static ProblemHttpResult BadLinkId() => Problems.Validation("link_id", "A link id: the UUID POST /v1/links answered.");

    private static ProblemHttpResult Refused(LinkOutcome outcome) => outcome switch
    {
        LinkOutcome.Unknown => Problems.Of(StatusCodes.Status404NotFound, "no-such-link", "No such link."),
        LinkOutcome.Gone => Problems.Of(StatusCodes.Status410Gone, "link-gone", "The link expired or was used.", "Start linking again on the new device."),
        LinkOutcome.TakenByAnotherAccount => Problems.Of(StatusCodes.Status409Conflict, "link-taken", "Another account is linking this device."),
        LinkOutcome.NotReserved => Problems.Of(StatusCodes.Status409Conflict, "link-not-fetched", "Fetch the link first (GET /v1/links/{link_id}): it reserves the device id to certify."),
        LinkOutcome.TooManyDevices => Problems.Of(StatusCodes.Status409Conflict, "too-many-devices",
            $"The account has {Limits.DevicesMax} devices, as many as it may.", "Remove one first (DELETE /v1/accounts/me/devices/{device_id})."),
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Link {LinkId} made from {ClientAddress}")]
    private static partial void LogCreated(ILogger logger, Guid linkId, string clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Link {LinkId} fetched by {Username} from {ClientAddress}: device {DeviceId} reserved")]
    private static partial void LogFetched(ILogger logger, Guid linkId, string username, int deviceId, string clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Link {LinkId} approved by {Username} from {ClientAddress}: device {DeviceId} added")]
    private static partial void LogApproved(ILogger logger, Guid linkId, string username, int deviceId, string clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Link {LinkId} used from {ClientAddress}: device {DeviceId} of {Username} has session {SessionId}")]
    private static partial void LogUsed(ILogger logger, Guid linkId, string username, int deviceId, string clientAddress, Guid sessionId);
}
