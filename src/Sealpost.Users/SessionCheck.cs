using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;
using Sealpost.Users.Sessions;

namespace Sealpost.Users;

/// <summary>
/// Access tokens are checked for signature, issuer, audience and expiry, and their session must still be live.
/// Every refused token is logged with the reason and the client address, never the token.
/// </summary>
internal static partial class SessionCheck
{
    public static void Configure(JwtBearerOptions options, TokenIssuer issuer)
    {
        options.MapInboundClaims = false;
        options.TokenValidationParameters = issuer.ValidationParameters();
        options.Events = new JwtBearerEvents
        {
            OnTokenValidated = async context =>
            {
                var sessions = context.HttpContext.RequestServices.GetRequiredService<SessionStore>();
                var sid = context.Principal?.FindFirst(TokenClaims.Session)?.Value;
                if (!Guid.TryParse(sid, out var sessionId) || !await sessions.IsLiveAsync(sessionId, context.HttpContext.RequestAborted))
                    context.Fail("The session has ended.");
            },
            OnChallenge = async context =>
            {
                context.HandleResponse();
                if (context.AuthenticateFailure is not null || context.Request.Headers.Authorization.Count > 0)
                {
                    var logger = context.HttpContext.RequestServices.GetRequiredService<ILogger<TokenIssuer>>();
                    LogBearerRefused(logger, context.Request.Method, context.Request.Path, ClientAddress.Of(context.HttpContext), ReasonOf(context));
                }
                await Problems.Of(StatusCodes.Status401Unauthorized, "unauthorized", "A valid access token is required.",
                    "Send Authorization: Bearer <access_token> from POST /v1/sessions.").ExecuteAsync(context.HttpContext);
            },
        };
    }

    /// <summary>The handler's own description (no token material), our own failure message, or the kind of failure.</summary>
    private static string ReasonOf(JwtBearerChallengeContext context) => context switch
    {
        { ErrorDescription.Length: > 0 } => context.ErrorDescription,
        { AuthenticateFailure: AuthenticationFailureException ours } => ours.Message,
        { AuthenticateFailure: { } other } => other.GetType().Name,
        _ => "no bearer token in the Authorization header",
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bearer authentication failed for {Method} {Path} from {ClientAddress}: {Reason}")]
    private static partial void LogBearerRefused(ILogger logger, string method, string path, string clientAddress, string reason);
}
