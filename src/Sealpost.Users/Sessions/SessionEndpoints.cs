using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;
using Sealpost.Users.Accounts;
using Sealpost.Users.Devices;
using Sealpost.Users.Monitoring;
using Sealpost.Users.Passwords;

namespace Sealpost.Users.Sessions;

public static partial class SessionEndpoints
{
    public static IEndpointRouteBuilder MapSessionEndpoints(this IEndpointRouteBuilder app)
    {
        var sessions = app.MapGroup("/v1/sessions").WithTags("Sessions").WithNoStore();
        sessions.MapPost("/", Login).Accepts<LoginRequest>("application/json");
        sessions.MapPost("/refresh", Refresh).Accepts<RefreshRequest>("application/json");
        sessions.MapGet("/current", SessionIsLive).RequireAuthorization();
        sessions.MapDelete("/current", Logout).RequireAuthorization();
        app.MapGet("/.well-known/jwks.json", (SigningKey key) => TypedResults.Ok(new JsonWebKeySetDocument([key.PublicJwk])))
            .WithTags("Sessions");
        return app;
    }

    /// <summary>
    /// An unknown user and a wrong password get the same answer after the same work. A name that breaks the naming
    /// rule cannot exist and gets that answer at once; a password outside the length rule gets it without Argon2id work
    /// (see <see cref="PasswordCheck"/>). Neither says anything about any account. A throttled name or address gets
    /// 429 with Retry-After before any password work.
    /// </summary>
    private static async Task<Results<Ok<SessionResponse>, ProblemHttpResult>> Login(
        HttpContext http, AccountStore accounts, SessionStore sessions, PasswordCheck passwords, PasswordHasher hasher, TokenIssuer issuer,
        TokenOptions options, ILogger<TokenIssuer> logger, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(http.Request, SealpostJsonContext.Default.LoginRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var username = AccountRules.NormalizeUsername(body!.Username);
        if (body.Username is null) errors.Add("username", "Required.");
        if (body.Password is null) errors.Add("password", "Required.");
        else if (body.Password.Length > Limits.PasswordMaxLength * 2) errors.Add("password", "Too long.");
        if (body.DeviceId is < 1) errors.Add("device_id", "A device id: an integer from 1.");
        if (errors.Any) return errors.ToProblem();

        var client = http.Connection.RemoteIpAddress;
        if (username is null)
        {
            UsersMetrics.Logins.Add(1, UsersMetrics.Failed);
            LogLoginFailed(logger, "(not a valid username)", ClientAddress.Of(http));
            return InvalidCredentials();
        }
        var account = await accounts.FindAsync(username, ct);
        var verdict = await passwords.CheckAsync(username, client, body.Password!, account?.PasswordHash, ct);
        if (verdict.Wait is { } wait)
        {
            UsersMetrics.Logins.Add(1, UsersMetrics.Throttled);
            LogLoginThrottled(logger, username, ClientAddress.Of(http));
            return PasswordCheck.Throttled(http.Response, wait);
        }
        if (!verdict.IsRight)
        {
            UsersMetrics.Logins.Add(1, UsersMetrics.Failed);
            LogLoginFailed(logger, username, ClientAddress.Of(http));
            return InvalidCredentials();
        }
        await RehashIfWeakAsync(account!, body.Password!, accounts, hasher, ct);

        // Only someone who knows the password learns which devices exist.
        var refreshToken = SessionStore.NewRefreshToken();
        var refreshExpires = options.FirstRefreshExpiry();
        if (await sessions.CreateAsync(account!.Id, body.DeviceId, refreshToken, refreshExpires, ct) is not var (sessionId, deviceId))
        {
            UsersMetrics.Logins.Add(1, UsersMetrics.Failed);
            LogLoginNoSuchDevice(logger, account.Username, body.DeviceId ?? 0, ClientAddress.Of(http));
            return DeviceEndpoints.NoSuchDevice();
        }
        UsersMetrics.Logins.Add(1, UsersMetrics.Succeeded);
        LogLoginSucceeded(logger, account.Username, ClientAddress.Of(http), sessionId, deviceId);
        return TypedResults.Ok(Respond(issuer, account.Username, sessionId, deviceId, refreshToken, refreshExpires));
    }

    /// <summary>A new access token for the session of <paramref name="deviceId"/>, with its refresh token: what a login, a refresh and a linked device's poll answer.</summary>
    public static SessionResponse Respond(TokenIssuer issuer, string username, Guid sessionId, int deviceId, string refreshToken, DateTimeOffset refreshExpires)
    {
        var (accessToken, expiresAt) = issuer.Issue(username, sessionId, deviceId);
        return new SessionResponse(accessToken, "Bearer", expiresAt, refreshToken, refreshExpires);
    }

    /// <summary>A hash weaker than today's cost is renewed; when every hashing slot is busy that waits for a later login.</summary>
    private static async Task RehashIfWeakAsync(AccountRecord account, string password, AccountStore accounts, PasswordHasher hasher, CancellationToken ct)
    {
        if (!hasher.NeedsRehash(account.PasswordHash)) return;
        try
        {
            await accounts.SetPasswordHashAsync(account.Id, await hasher.HashAsync(password, ct), ct);
        }
        catch (PasswordWorkBusyException)
        {
            // The login itself succeeded; the stronger hash can wait.
        }
    }

    private static ProblemHttpResult InvalidCredentials() =>
        Problems.Of(StatusCodes.Status401Unauthorized, "invalid-credentials", "Wrong username or password.");

    private static async Task<Results<Ok<SessionResponse>, ProblemHttpResult>> Refresh(
        HttpContext http, SessionStore sessions, SessionEvents events, TokenIssuer issuer, TokenOptions options, ILogger<TokenIssuer> logger, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(http.Request, SealpostJsonContext.Default.RefreshRequest, ct);
        if (problem is not null) return problem;
        if (body!.RefreshToken is not { Length: > 0 and <= 128 } presented) return Problems.Validation("refresh_token", "Required.");

        var client = ClientAddress.Of(http);
        var refreshToken = SessionStore.NewRefreshToken();
        var refreshExpires = DateTimeOffset.UtcNow.AddDays(options.RefreshTokenDays);
        var rotation = await sessions.RotateAsync(presented, refreshToken, refreshExpires, TimeSpan.FromDays(options.SessionMaxDays), ct);
        if (rotation.Replayed is var (replayedBy, ended))
        {
            // Someone else may hold the session (the token was stolen): its sockets close now, not when their tokens expire.
            events.Ended(replayedBy, only: ended);
            LogRefreshReplayed(logger, replayedBy, client, ended);
        }
        if (rotation.Session is not { } session)
        {
            LogRefreshFailed(logger, client);
            return Problems.Of(StatusCodes.Status401Unauthorized, "invalid-refresh-token", "The refresh token is not valid; log in again.");
        }
        LogRefreshed(logger, session.Username, client, session.SessionId);
        return TypedResults.Ok(Respond(issuer, session.Username, session.SessionId, session.DeviceId, refreshToken, session.ExpiresAt));
    }

    /// <summary>
    /// 204 while the token's session is live (the authorization before it checks that, <see cref="SessionCheck"/>), 401 once
    /// it ended: how the messages service learns, at connect and at each renewal, that a session ended without waiting
    /// for a notice on Redis (decision 84).
    /// </summary>
    private static NoContent SessionIsLive() => TypedResults.NoContent();

    private static async Task<NoContent> Logout(
        HttpContext http, ClaimsPrincipal user, SessionStore sessions, SessionEvents events, ILogger<TokenIssuer> logger, CancellationToken ct)
    {
        if (CallerClaims.Session(user) is var sessionId && sessionId != Guid.Empty)
        {
            await sessions.RevokeAsync(sessionId, ct);
            events.Ended(user.Identity!.Name!, only: sessionId);
            LogLoggedOut(logger, user.Identity!.Name!, ClientAddress.Of(http), sessionId);
        }
        return TypedResults.NoContent();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Login succeeded for {Username} from {ClientAddress}, session {SessionId} of device {DeviceId}")]
    private static partial void LogLoginSucceeded(ILogger logger, string username, string clientAddress, Guid sessionId, int deviceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Login for {Username} asked for device {DeviceId}, which the account does not have live, from {ClientAddress}")]
    private static partial void LogLoginNoSuchDevice(ILogger logger, string username, int deviceId, string clientAddress);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Login failed for {Username} from {ClientAddress}")]
    private static partial void LogLoginFailed(ILogger logger, string username, string clientAddress);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Login throttled for {Username} from {ClientAddress}")]
    private static partial void LogLoginThrottled(ILogger logger, string username, string clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Session {SessionId} of {Username} refreshed from {ClientAddress}")]
    private static partial void LogRefreshed(ILogger logger, string username, string clientAddress, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Logout of {Username} from {ClientAddress}, session {SessionId} ended")]
    private static partial void LogLoggedOut(ILogger logger, string username, string clientAddress, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A spent refresh token of {Username} was presented again from {ClientAddress}: session {SessionId} ended")]
    private static partial void LogRefreshReplayed(ILogger logger, string username, string clientAddress, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refresh refused from {ClientAddress}")]
    private static partial void LogRefreshFailed(ILogger logger, string clientAddress);
}
