using Npgsql;

namespace Sealpost.Users.Accounts;

/// <summary>
/// A live account with its current public key; its identity key and that key's certificate once the account set an
/// identity (docs/devices.md).
/// </summary>
public sealed record AccountRecord(
    Guid Id,
    string Username,
    string? DisplayName,
    string PasswordHash,
    byte[] PublicKey,
    int KeyId,
    DateTimeOffset KeyChangedAt,
    DateTimeOffset CreatedAt,
    byte[]? IdentityKey = null,
    byte[]? Certificate = null);

/// <summary>Every SQL statement about accounts and their keys; all parameterised.</summary>
public sealed class AccountStore(NpgsqlDataSource db)
{
    private const string SelectLive = """
        SELECT a.id, a.username, a.display_name, a.password_hash, k.public_key, a.key_id, a.key_changed_at, a.created_at,
               a.identity_key, k.certificate
        FROM accounts a JOIN account_keys k ON k.account_id = a.id AND k.key_id = a.key_id
        WHERE a.deleted_at IS NULL AND a.username = $1
        """;

    /// <summary>Creates the account with key id 1; null when the name is taken (or was ever taken).</summary>
    public async Task<AccountRecord?> CreateAsync(Guid id, string username, string? displayName, string passwordHash, byte[] publicKey, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            WITH created AS (
                INSERT INTO accounts (id, username, display_name, password_hash, key_id, key_changed_at)
                VALUES ($1, $2, $3, $4, 1, now())
                ON CONFLICT (username) DO NOTHING
                RETURNING id, created_at)
            INSERT INTO account_keys (account_id, key_id, public_key, created_at) SELECT id, 1, $5, created_at FROM created
            RETURNING created_at
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = username });
        cmd.Parameters.Add(new() { Value = (object?)displayName ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = passwordHash });
        cmd.Parameters.Add(new() { Value = publicKey });
        // The statement's own answer is the new record: no second read.
        if (await cmd.ExecuteScalarAsync(ct) is not DateTime createdAt) return null;
        var at = new DateTimeOffset(createdAt, TimeSpan.Zero);
        return new AccountRecord(id, username, displayName, passwordHash, publicKey, 1, at, at);
    }

    public async Task<AccountRecord?> FindAsync(string username, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(SelectLive);
        cmd.Parameters.Add(new() { Value = username });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        return new AccountRecord(
            reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3),
            (byte[])reader[4], reader.GetInt32(5), reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7),
            reader.IsDBNull(8) ? null : (byte[])reader[8], reader.IsDBNull(9) ? null : (byte[])reader[9]);
    }

    /// <summary>A key the live account had (or has) under that id, and when it became current.</summary>
    public async Task<(byte[] PublicKey, DateTimeOffset CreatedAt)?> FindKeyAsync(string username, int keyId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT k.public_key, k.created_at FROM accounts a JOIN account_keys k ON k.account_id = a.id
            WHERE a.deleted_at IS NULL AND a.username = $1 AND k.key_id = $2
            """);
        cmd.Parameters.Add(new() { Value = username });
        cmd.Parameters.Add(new() { Value = keyId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ((byte[])reader[0], reader.GetFieldValue<DateTimeOffset>(1)) : null;
    }

    public Task SetDisplayNameAsync(Guid id, string? displayName, CancellationToken ct) =>
        ExecuteAsync("UPDATE accounts SET display_name = $2 WHERE id = $1", ct, id, (object?)displayName ?? DBNull.Value);

    public Task SetPasswordHashAsync(Guid id, string passwordHash, CancellationToken ct) =>
        ExecuteAsync("UPDATE accounts SET password_hash = $2 WHERE id = $1", ct, id, passwordHash);

    /// <summary>A new password ends every session of the account, in the same statement.</summary>
    public Task ChangePasswordAsync(Guid id, string passwordHash, CancellationToken ct) =>
        ExecuteAsync("""
            WITH changed AS (UPDATE accounts SET password_hash = $2 WHERE id = $1)
            UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL
            """, ct, id, passwordHash);

    /// <summary>
    /// Sets the account's identity key and the certificate of its current key <paramref name="keyId"/>, in one statement;
    /// false when the account has another identity key already or its key is no longer <paramref name="keyId"/>.
    /// </summary>
    public async Task<bool> SetIdentityAsync(Guid id, byte[] identityKey, int keyId, byte[] certificate, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            WITH account AS (
                UPDATE accounts SET identity_key = $2
                WHERE id = $1 AND deleted_at IS NULL AND key_id = $3 AND (identity_key IS NULL OR identity_key = $2)
                RETURNING id)
            UPDATE account_keys SET certificate = $4 WHERE account_id = (SELECT id FROM account) AND key_id = $3
            RETURNING 1
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = identityKey });
        cmd.Parameters.Add(new() { Value = keyId });
        cmd.Parameters.Add(new() { Value = certificate });
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    /// <summary>
    /// Makes <paramref name="publicKey"/> (with its <paramref name="certificate"/>, once the account has an identity)
    /// current under the key id after <paramref name="currentKeyId"/> and ends every session of the account but
    /// <paramref name="keepSession"/>, in one statement. Returns the new key id (0 when the key changed meanwhile) and
    /// how many sessions ended.
    /// </summary>
    public async Task<(int KeyId, long EndedSessions)> RotateKeyAsync(
        Guid id, int currentKeyId, byte[] publicKey, byte[]? certificate, Guid keepSession, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            WITH bumped AS (
                UPDATE accounts SET key_id = key_id + 1, key_changed_at = now()
                WHERE id = $1 AND deleted_at IS NULL AND key_id = $4
                RETURNING id, key_id, key_changed_at),
            added AS (
                INSERT INTO account_keys (account_id, key_id, public_key, certificate, created_at)
                SELECT id, key_id, $2, $5, key_changed_at FROM bumped),
            ended AS (
                UPDATE sessions SET revoked_at = now()
                WHERE account_id = $1 AND id <> $3 AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM bumped)
                RETURNING 1)
            SELECT coalesce((SELECT key_id FROM bumped), 0), (SELECT count(*) FROM ended)
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = publicKey });
        cmd.Parameters.Add(new() { Value = keepSession });
        cmd.Parameters.Add(new() { Value = currentKeyId });
        cmd.Parameters.Add(new() { Value = (object?)certificate ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bytea });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt32(0), reader.GetInt64(1));
    }

    /// <summary>Whether the name belongs to an account, live or deleted (a deleted account's name stays taken).</summary>
    public async Task<bool> NameTakenAsync(string username, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT 1 FROM accounts WHERE username = $1");
        cmd.Parameters.Add(new() { Value = username });
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    /// <summary>Leaves a tombstone (the name stays taken), drops the secret, and ends every session.</summary>
    public Task DeleteAsync(Guid id, CancellationToken ct) =>
        ExecuteAsync("""
            WITH gone AS (UPDATE accounts SET deleted_at = now(), password_hash = NULL, display_name = NULL WHERE id = $1)
            UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL
            """, ct, id);

    private async Task ExecuteAsync(string sql, CancellationToken ct, params object[] values)
    {
        await using var cmd = db.CreateCommand(sql);
        foreach (var value in values)
            cmd.Parameters.Add(value is DBNull ? new NpgsqlParameter { Value = value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text } : new NpgsqlParameter { Value = value });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
