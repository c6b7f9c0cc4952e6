using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http.HttpResults;
using Sealpost.ServiceDefaults;
using Sealpost.Users.Accounts;
using Sealpost.Users.Monitoring;
using Sealpost.Users.Sessions;

namespace Sealpost.Users.Passwords;

/// <summary>
/// The one way a password is checked — at login and for <c>current_password</c> alike: the attempt is reserved with
/// the throttle (per account name and per client address) before any Argon2id work, and the work runs under
/// <see cref="PasswordWork"/>. A password outside the length rule is wrong without a hash, yet counts as a guess.
/// A check that never ran (busy, cancelled) gives the attempt back.
/// </summary>
public sealed class PasswordCheck(LoginThrottle throttle, PasswordHasher hasher)
{
    public async Task<PasswordVerdict> CheckAsync(string username, IPAddress? client, string password, string? storedHash, CancellationToken ct)
    {
        if (await throttle.ReserveAsync(username, client, ct) is { } wait)
        {
            UsersMetrics.ThrottledChecks.Add(1);
            return PasswordVerdict.Throttled(wait);
        }
        // Outside the length rule every stored password was set under: wrong without any hashing, but still a guess.
        if (!AccountFields.PasswordFits(password)) return PasswordVerdict.Wrong;
        bool right;
        try
        {
            right = await hasher.VerifyAsync(password, storedHash, ct);
        }
        catch
        {
            await throttle.RefundAsync(username, client, CancellationToken.None);
            throw;
        }
        if (!right) return PasswordVerdict.Wrong;
        await throttle.SucceededAsync(username, client, ct);
        return PasswordVerdict.Right;
    }

    /// <summary><c>429 login-throttled</c> with <c>Retry-After</c>: the password was not checked.</summary>
    public static ProblemHttpResult Throttled(HttpResponse response, TimeSpan wait)
    {
        response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        return Problems.Of(StatusCodes.Status429TooManyRequests, "login-throttled", "Too many wrong passwords; wait before trying again.");
    }
}
