using System.Security.Cryptography;
using Npgsql;

namespace Sealpost.Users.Sessions;

/// <summary>Sessions and their refresh tokens, which are stored only as SHA-256 hashes.</summary>
public sealed class SessionStore(NpgsqlDataSource db)
{
    public static string NewRefreshToken() => System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public static byte[] HashOf(string refreshToken) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(refreshToken));

    public async Task<Guid> CreateAsync(Guid accountId, string refreshToken, DateTimeOffset expiresAt, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        await using var cmd = db.CreateCommand("INSERT INTO sessions (id, account_id, refresh_hash, expires_at) VALUES ($1, $2, $3, $4)");
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = accountId });
        cmd.Parameters.Add(new() { Value = HashOf(refreshToken) });
        cmd.Parameters.Add(new() { Value = expiresAt });
        await cmd.ExecuteNonQueryAsync(ct);
        return id;
    }

    /// <summary>
    /// Swaps the refresh token of a live session for a new one and moves its expiry to <paramref name="expiresAt"/>, but
    /// never past <paramref name="maxAge"/> after the login: a session ends then however often it is refreshed. A token
    /// that was already swapped (a replay, so possibly stolen) ends its session instead. Returns the session, username
    /// and expiry, or null.
    /// </summary>
    public async Task<(Guid SessionId, string Username, DateTimeOffset ExpiresAt)?> RotateAsync(
        string refreshToken, string newRefreshToken, DateTimeOffset expiresAt, TimeSpan maxAge, CancellationToken ct)
    {
        var oldHash = HashOf(refreshToken);
        await using (var cmd = db.CreateCommand("""
            UPDATE sessions s SET previous_hash = s.refresh_hash, refresh_hash = $2, expires_at = least($3, s.created_at + $4)
            FROM accounts a
            WHERE s.refresh_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND s.created_at + $4 > now()
              AND a.id = s.account_id AND a.deleted_at IS NULL
            RETURNING s.id, a.username, s.expires_at
            """))
        {
            cmd.Parameters.Add(new() { Value = oldHash });
            cmd.Parameters.Add(new() { Value = HashOf(newRefreshToken) });
            cmd.Parameters.Add(new() { Value = expiresAt });
            cmd.Parameters.Add(new() { Value = maxAge });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct)) return (reader.GetGuid(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2));
        }
        await using var replay = db.CreateCommand("UPDATE sessions SET revoked_at = now() WHERE previous_hash = $1 AND revoked_at IS NULL");
        replay.Parameters.Add(new() { Value = oldHash });
        await replay.ExecuteNonQueryAsync(ct);
        return null;
    }

    public async Task<bool> IsLiveAsync(Guid sessionId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT 1 FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()");
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
