using Microsoft.AspNetCore.Authentication.JwtBearer;
using Sealpost.ServiceDefaults;
using Sealpost.Users.Sessions;

namespace Sealpost.Users;

/// <summary>Access tokens are checked for signature, issuer, audience and expiry, and their session must still be live.</summary>
internal static class SessionCheck
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
                var sid = context.Principal?.FindFirst(TokenIssuer.SessionClaim)?.Value;
                if (!Guid.TryParse(sid, out var sessionId) || !await sessions.IsLiveAsync(sessionId, context.HttpContext.RequestAborted))
                    context.Fail("The session has ended.");
            },
            OnChallenge = async context =>
            {
                context.HandleResponse();
                await Problems.Of(StatusCodes.Status401Unauthorized, "unauthorized", "A valid access token is required.",
                    "Send Authorization: Bearer <access_token> from POST /v1/sessions.").ExecuteAsync(context.HttpContext);
            },
        };
    }
}
