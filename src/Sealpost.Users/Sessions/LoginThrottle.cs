using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Sealpost.Users.Sessions;

/// <summary>Login throttling (section <c>LoginThrottle</c>).</summary>
public sealed class LoginThrottleOptions
{
    public const string Section = "LoginThrottle";

    /// <summary>Failures allowed before each further attempt must wait.</summary>
    [Range(1, 1000)]
    public int FreeFailures { get; set; } = 5;

    /// <summary>The longest wait; it doubles with each failure up to here, so the owner is never locked out for long.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>A quiet spell after which past failures are forgotten.</summary>
    public TimeSpan ForgetAfter { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Slows password guessing against one account, across every users instance (the state is in PostgreSQL): after a
/// few failures each attempt must wait, doubling each time up to a cap; a success clears it.
/// </summary>
public sealed class LoginThrottle(NpgsqlDataSource db, IOptions<LoginThrottleOptions> options)
{
    /// <summary>How long this username must still wait before a password is even checked, or null.</summary>
    public async Task<TimeSpan?> WaitAsync(string username, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT blocked_until - now() FROM login_failures WHERE username = $1 AND blocked_until > now()");
        cmd.Parameters.Add(new() { Value = username });
        return await cmd.ExecuteScalarAsync(ct) is TimeSpan wait ? wait : null;
    }

    public async Task FailedAsync(string username, CancellationToken ct)
    {
        var o = options.Value;
        await using var cmd = db.CreateCommand("""
            INSERT INTO login_failures AS f (username, failures, last_failure, blocked_until) VALUES ($1, 1, now(), now())
            ON CONFLICT (username) DO UPDATE SET
                failures = CASE WHEN f.last_failure < now() - $4 THEN 1 ELSE f.failures + 1 END,
                last_failure = now(),
                blocked_until = CASE
                    WHEN f.last_failure < now() - $4 OR f.failures + 1 <= $2 THEN now()
                    ELSE now() + least($3, interval '1 second' * power(2, least(f.failures + 1 - $2, 20)))
                END
            """);
        cmd.Parameters.Add(new() { Value = username });
        cmd.Parameters.Add(new() { Value = o.FreeFailures });
        cmd.Parameters.Add(new() { Value = o.MaxDelay });
        cmd.Parameters.Add(new() { Value = o.ForgetAfter });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task SucceededAsync(string username, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("DELETE FROM login_failures WHERE username = $1");
        cmd.Parameters.Add(new() { Value = username });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
