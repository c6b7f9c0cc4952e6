using System.Security.Cryptography;
using Npgsql;

namespace Sealpost.Users.Sessions;

/// <summary>Sessions and their refresh tokens, which are stored only as SHA-256 hashes.</summary>
public sealed class SessionStore(NpgsqlDataSource db)
{
    public static string NewRefreshToken() => System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public static byte[] HashOf(string refreshToken) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(refreshToken));

    /// <summary>
    /// A session for the account's live device <paramref name="deviceId"/>, or its lowest live device when null; null
    /// when there is no such live device.
    /// </summary>
    public async Task<(Guid SessionId, int DeviceId)?> CreateAsync(Guid accountId, int? deviceId, string refreshToken, DateTimeOffset expiresAt, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        await using var cmd = db.CreateCommand("""
            INSERT INTO sessions (id, account_id, device_id, refresh_hash, expires_at)
            SELECT $1, $2, device_id, $3, $4 FROM devices
            WHERE account_id = $2 AND removed_at IS NULL AND ($5::int IS NULL OR device_id = $5)
            ORDER BY device_id LIMIT 1
            RETURNING device_id
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = accountId });
        cmd.Parameters.Add(new() { Value = HashOf(refreshToken) });
        cmd.Parameters.Add(new() { Value = expiresAt });
        cmd.Parameters.Add(new() { Value = (object?)deviceId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        return await cmd.ExecuteScalarAsync(ct) is int device ? (id, device) : null;
    }

    /// <summary>
    /// Swaps the refresh token of a live session for a new one and moves its expiry to <paramref name="expiresAt"/>, but
    /// never past <paramref name="maxAge"/> after the login: a session ends then however often it is refreshed. A token
    /// that was already swapped (a replay, so possibly stolen) ends its session instead. A removed device's sessions are
    /// refused however they were left. Returns the session, username, device and expiry, or no session; and the session a
    /// replay ended, if it ended one just now (its sockets must close).
    /// </summary>
    public async Task<RefreshRotation> RotateAsync(
        string refreshToken, string newRefreshToken, DateTimeOffset expiresAt, TimeSpan maxAge, CancellationToken ct)
    {
        var oldHash = HashOf(refreshToken);
        await using (var cmd = db.CreateCommand("""
            UPDATE sessions s SET previous_hash = s.refresh_hash, refresh_hash = $2, expires_at = least($3, s.created_at + $4)
            FROM accounts a, devices d
            WHERE s.refresh_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND s.created_at + $4 > now()
              AND a.id = s.account_id AND a.deleted_at IS NULL
              AND d.account_id = s.account_id AND d.device_id = s.device_id AND d.removed_at IS NULL
            RETURNING s.id, a.username, s.device_id, s.expires_at
            """))
        {
            cmd.Parameters.Add(new() { Value = oldHash });
            cmd.Parameters.Add(new() { Value = HashOf(newRefreshToken) });
            cmd.Parameters.Add(new() { Value = expiresAt });
            cmd.Parameters.Add(new() { Value = maxAge });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
                return new((reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2), reader.GetFieldValue<DateTimeOffset>(3)), null);
        }
        await using var replay = db.CreateCommand("""
            UPDATE sessions s SET revoked_at = now() FROM accounts a
            WHERE s.previous_hash = $1 AND s.revoked_at IS NULL AND a.id = s.account_id
            RETURNING a.username, s.id
            """);
        replay.Parameters.Add(new() { Value = oldHash });
        await using var replayed = await replay.ExecuteReaderAsync(ct);
        return new(null, await replayed.ReadAsync(ct) ? (replayed.GetString(0), replayed.GetGuid(1)) : null);
    }

    /// <summary>Whether the session is live, and its device too (a session that slipped past a removal still ends with it).</summary>
    public async Task<bool> IsLiveAsync(Guid sessionId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT 1 FROM sessions s JOIN devices d ON d.account_id = s.account_id AND d.device_id = s.device_id
            WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND d.removed_at IS NULL
            """);
        cmd.Parameters.Add(new() { Value = sessionId });
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    public async Task RevokeAsync(Guid sessionId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL");
        cmd.Parameters.Add(new() { Value = sessionId });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>What a refresh did: the rotated session, or none; and the session a replay of a spent token ended, if any.</summary>
public readonly record struct RefreshRotation(
    (Guid SessionId, string Username, int DeviceId, DateTimeOffset ExpiresAt)? Session, (string Username, Guid SessionId)? Replayed);
