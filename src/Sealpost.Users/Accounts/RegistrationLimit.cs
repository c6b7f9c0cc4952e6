using System.Net;
using Microsoft.Extensions.Options;
using Npgsql;
using Sealpost.ServiceDefaults;

namespace Sealpost.Users.Accounts;

/// <summary>
/// Registrations per client address, across every users instance (the count is in PostgreSQL): each costs an Argon2id
/// hash and an account name forever, so the service limits them itself and does not count on HAProxy alone (security
/// review H1). A registration is reserved before its password is hashed, in one statement that refuses it when the
/// address has used its window up, so parallel registrations cannot all slip through between a check and a record.
/// </summary>
public sealed class RegistrationLimit(NpgsqlDataSource db, IOptions<RegistrationLimitOptions> options)
{
    // The row is locked by ON CONFLICT, and its WHERE is judged on the latest row, so the count never passes the limit.
    // When refused, the snapshot may not show a row another registration made a moment ago: then the wait is a window.
    private const string Reserve = """
        WITH reserved AS (
            INSERT INTO registrations_by_address AS r (subject, window_start, registrations) VALUES ($1, now(), 1)
            ON CONFLICT (subject) DO UPDATE SET
                window_start = CASE WHEN r.window_start <= now() - $3 THEN now() ELSE r.window_start END,
                registrations = CASE WHEN r.window_start <= now() - $3 THEN 1 ELSE r.registrations + 1 END
            WHERE r.window_start <= now() - $3 OR r.registrations < $2
            RETURNING 1)
        SELECT CASE WHEN EXISTS (SELECT 1 FROM reserved) THEN NULL
                    ELSE greatest(coalesce((SELECT window_start FROM registrations_by_address WHERE subject = $1) + $3 - now(), $3),
                                  interval '1 second') END
        """;

    /// <summary>Reserves one registration for <paramref name="client"/>, or says how long to wait (and reserves nothing).</summary>
    public async Task<TimeSpan?> ReserveAsync(IPAddress? client, CancellationToken ct)
    {
        if (client is null) return null;
        var o = options.Value;
        await using var cmd = db.CreateCommand(Reserve);
        cmd.Parameters.Add(new() { Value = AddressSubject.Of(client) });
        cmd.Parameters.Add(new() { Value = o.PerAddressPerHour });
        cmd.Parameters.Add(new() { Value = o.Window });
        return await cmd.ExecuteScalarAsync(ct) is TimeSpan wait ? wait : null;
    }

    /// <summary>The registration was never made (the server was busy hashing, or the request ended): gives it back.</summary>
    public async Task RefundAsync(IPAddress? client, CancellationToken ct)
    {
        if (client is null) return;
        await using var cmd = db.CreateCommand("UPDATE registrations_by_address SET registrations = registrations - 1 WHERE subject = $1 AND registrations > 0");
        cmd.Parameters.Add(new() { Value = AddressSubject.Of(client) });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
