using System.Globalization;
using System.Security.Claims;
using Sealpost.Protocol;

namespace Sealpost.Users.Sessions;

/// <summary>What an authenticated request's access token says about the caller besides the username.</summary>
public static class CallerClaims
{
    /// <summary>The session the token belongs to; <see cref="Guid.Empty"/> when it names none.</summary>
    public static Guid Session(ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(TokenClaims.Session), out var session) ? session : Guid.Empty;

    /// <summary>The caller's device: tokens minted before linked devices carry none, and were device 1's.</summary>
    public static int Device(ClaimsPrincipal user) =>
        int.TryParse(user.FindFirstValue(TokenClaims.Device), NumberStyles.None, CultureInfo.InvariantCulture, out var device) && device >= 1 ? device : 1;
}
