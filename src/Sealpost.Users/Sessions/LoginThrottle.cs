using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.Extensions.Options;
using Npgsql;
using Sealpost.ServiceDefaults;

namespace Sealpost.Users.Sessions;

/// <summary>Password-guessing throttle (section <c>LoginThrottle</c>).</summary>
public sealed class LoginThrottleOptions
{
    public const string Section = "LoginThrottle";

    /// <summary>Failures allowed per account name before each further attempt must wait.</summary>
    [Range(1, 1000)]
    public int FreeFailures { get; set; } = 5;

    /// <summary>Failures allowed per client address, over every name, before each further attempt from it must wait.</summary>
    [Range(1, 100_000)]
    public int AddressFreeFailures { get; set; } = 100;

    /// <summary>The longest wait; it doubles with each failure up to here, so the owner is never locked out for long.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>A quiet spell after which past failures are forgotten.</summary>
    public TimeSpan ForgetAfter { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Slows password guessing, across every users instance (the state is in PostgreSQL), per account name and per client
/// address: after a few failures each attempt must wait, doubling each time up to a cap. An attempt is reserved before
/// its password is checked, in one statement that refuses it if the subject must wait, so parallel guesses cannot
/// all slip through between a check and a record. The reservation counts as a failure until the check says otherwise.
/// </summary>
public sealed class LoginThrottle(NpgsqlDataSource db, IOptions<LoginThrottleOptions> options)
{
    // A free attempt leaves blocked_until where it was (in the past): setting it to now() would make a concurrent
    // statement whose transaction began a moment earlier see the subject as blocked.
    // When a concurrent guess blocked the subject first, this statement's snapshot may still show the older row,
    // whose blocked_until can be '-infinity': it is clamped to now() before subtracting (PostgreSQL 15 cannot
    // subtract an infinite timestamp, and the request would end in a 500).
    private const string Reserve = """
        WITH reserved AS (
            INSERT INTO login_failures AS f (subject, failures, last_failure, blocked_until) VALUES ($1, 1, now(), '-infinity')
            ON CONFLICT (subject) DO UPDATE SET
                failures = CASE WHEN f.last_failure < now() - $4 THEN 1 ELSE f.failures + 1 END,
                last_failure = now(),
                blocked_until = CASE
                    WHEN f.last_failure < now() - $4 THEN '-infinity'
                    WHEN f.failures + 1 <= $2 THEN f.blocked_until
                    ELSE now() + least($3, interval '1 second' * power(2, least(f.failures + 1 - $2, 20)))
                END
            WHERE f.blocked_until <= now()
            RETURNING 1)
        SELECT CASE WHEN EXISTS (SELECT 1 FROM reserved) THEN NULL
                    ELSE greatest(greatest((SELECT blocked_until FROM login_failures WHERE subject = $1), now()) - now(), interval '1 second') END
        """;

    /// <summary>
    /// Reserves one password check for <paramref name="username"/> from <paramref name="client"/>, or says how long
    /// to wait (and reserves nothing) when the address or the name is throttled.
    /// </summary>
    public async Task<TimeSpan?> ReserveAsync(string username, IPAddress? client, CancellationToken ct)
    {
        var o = options.Value;
        if (client is not null && await ReserveAsync(AddressSubject.Of(client), o.AddressFreeFailures, ct) is { } addressWait) return addressWait;
        if (await ReserveAsync(username, o.FreeFailures, ct) is not { } nameWait) return null;
        // Refused without a check: it does not count against the address.
        if (client is not null) await RefundAsync(AddressSubject.Of(client), ct);
        return nameWait;
    }

    /// <summary>The password was right: the name's failures are forgotten and the address gets its attempt back.</summary>
    public async Task SucceededAsync(string username, IPAddress? client, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("DELETE FROM login_failures WHERE subject = $1") { Parameters = { new() { Value = username } } });
        if (client is not null) batch.BatchCommands.Add(RefundCommand(AddressSubject.Of(client)));
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The password was never checked (the server was busy, or the request ended): gives both attempts back.</summary>
    public async Task RefundAsync(string username, IPAddress? client, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(RefundCommand(username));
        if (client is not null) batch.BatchCommands.Add(RefundCommand(AddressSubject.Of(client)));
        await batch.ExecuteNonQueryAsync(ct);
    }

    private async Task<TimeSpan?> ReserveAsync(string subject, int freeFailures, CancellationToken ct)
    {
        var o = options.Value;
        await using var cmd = db.CreateCommand(Reserve);
        cmd.Parameters.Add(new() { Value = subject });
        cmd.Parameters.Add(new() { Value = freeFailures });
        cmd.Parameters.Add(new() { Value = o.MaxDelay });
        cmd.Parameters.Add(new() { Value = o.ForgetAfter });
        return await cmd.ExecuteScalarAsync(ct) is TimeSpan wait ? wait : null;
    }

    private async Task RefundAsync(string subject, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(RefundCommand(subject));
        await batch.ExecuteNonQueryAsync(ct);
    }

    private static NpgsqlBatchCommand RefundCommand(string subject) =>
        new("UPDATE login_failures SET failures = failures - 1 WHERE subject = $1 AND failures > 0") { Parameters = { new() { Value = subject } } };
}
