using Npgsql;
using Sealpost.Users.Devices;

namespace Sealpost.Users.Accounts;

/// <summary>
/// A live account with one live device's current key (<see cref="DeviceId"/>): the device asked for, or the account's
/// lowest live device; the account's identity key and that key's certificate once there are (docs/devices.md).
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
    byte[]? Certificate = null,
    int DeviceId = 1);

/// <summary>Every SQL statement about accounts and their keys; all parameterised.</summary>
public sealed class AccountStore(NpgsqlDataSource db)
{
    // $2 NULL: the lowest live device, which is what clients from before linked devices mean by "the account's key".
    private const string SelectLive = """
        SELECT a.id, a.username, a.display_name, a.password_hash, k.public_key, d.key_id, k.created_at, a.created_at,
               a.identity_key, k.certificate, d.device_id
        FROM accounts a
        JOIN LATERAL (
            SELECT device_id, key_id FROM devices
            WHERE account_id = a.id AND removed_at IS NULL AND ($2::int IS NULL OR device_id = $2)
            ORDER BY device_id LIMIT 1) d ON true
        JOIN account_keys k ON k.account_id = a.id AND k.device_id = d.device_id AND k.key_id = d.key_id
        WHERE a.deleted_at IS NULL AND a.username = $1
        """;

    /// <summary>Creates the account with its device 1 named <paramref name="deviceName"/> and key id 1; null when the name is taken (or was ever taken).</summary>
    public async Task<AccountRecord?> CreateAsync(
        Guid id, string username, string? displayName, string passwordHash, byte[] publicKey, string deviceName, byte[]? identityKey, byte[]? certificate,
        CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            WITH created AS (
                INSERT INTO accounts (id, username, display_name, password_hash, identity_key)
                VALUES ($1, $2, $3, $4, $7)
                ON CONFLICT (username) DO NOTHING
                RETURNING id, created_at),
            device AS (
                INSERT INTO devices (account_id, device_id, name, key_id, created_at) SELECT id, 1, $6, 1, created_at FROM created)
            INSERT INTO account_keys (account_id, device_id, key_id, public_key, certificate, created_at) SELECT id, 1, 1, $5, $8, created_at FROM created
            RETURNING created_at
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = username });
        cmd.Parameters.Add(new() { Value = (object?)displayName ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = passwordHash });
        cmd.Parameters.Add(new() { Value = publicKey });
        cmd.Parameters.Add(new() { Value = deviceName });
        cmd.Parameters.Add(new() { Value = (object?)identityKey ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bytea });
        cmd.Parameters.Add(new() { Value = (object?)certificate ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bytea });
        // The statement's own answer is the new record: no second read.
        if (await cmd.ExecuteScalarAsync(ct) is not DateTime createdAt) return null;
        var at = new DateTimeOffset(createdAt, TimeSpan.Zero);
        return new AccountRecord(id, username, displayName, passwordHash, publicKey, 1, at, at);
    }

    /// <summary>The live account with the current key of its live device <paramref name="deviceId"/>, or of its lowest live device when null.</summary>
    public async Task<AccountRecord?> FindAsync(string username, CancellationToken ct, int? deviceId = null)
    {
        await using var cmd = db.CreateCommand(SelectLive);
        cmd.Parameters.Add(new() { Value = username });
        cmd.Parameters.Add(new() { Value = (object?)deviceId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        return new AccountRecord(
            reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3),
            (byte[])reader[4], reader.GetInt32(5), reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7),
            reader.IsDBNull(8) ? null : (byte[])reader[8], reader.IsDBNull(9) ? null : (byte[])reader[9], reader.GetInt32(10));
    }

    /// <summary>
    /// A key the live account's device <paramref name="deviceId"/> had (or has) under that id, removed devices included
    /// (their messages must still verify); with no device, the lowest live device's.
    /// </summary>
    public async Task<DeviceKeyRecord?> FindKeyAsync(string username, int? deviceId, int keyId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT k.device_id, k.key_id, k.public_key, k.certificate, k.created_at FROM accounts a JOIN account_keys k ON k.account_id = a.id
            WHERE a.deleted_at IS NULL AND a.username = $1 AND k.key_id = $3
              AND k.device_id = coalesce($2, (SELECT min(device_id) FROM devices WHERE account_id = a.id AND removed_at IS NULL))
            """);
        cmd.Parameters.Add(new() { Value = username });
        cmd.Parameters.Add(new() { Value = (object?)deviceId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        cmd.Parameters.Add(new() { Value = keyId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? DeviceKeyRecord.Read(reader) : null;
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
    /// Sets the account's first identity key and, in the same transaction, makes <paramref name="publicKey"/> (certified
    /// by it) device <paramref name="deviceId"/>'s next key as a key rotation does. (0, []) when the
    /// account has an identity already, the key was the account's before, or the device's key changed meanwhile.
    /// </summary>
    public async Task<(int KeyId, Guid[] EndedSessions)> SetFirstIdentityAsync(
        Guid id, byte[] identityKey, int deviceId, int currentKeyId, byte[] publicKey, byte[] certificate, Guid keepSession, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand("""
            UPDATE accounts SET identity_key = $2
            WHERE id = $1 AND deleted_at IS NULL AND identity_key IS NULL
              AND NOT EXISTS (SELECT 1 FROM account_keys WHERE account_id = $1 AND public_key = $3)
            """, connection, transaction))
        {
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = identityKey });
            cmd.Parameters.Add(new() { Value = publicKey });
            if (await cmd.ExecuteNonQueryAsync(ct) != 1) return (0, []);
        }
        var rotated = await RotateKeyAsync(connection, transaction, id, deviceId, currentKeyId, publicKey, certificate, keepSession, ct);
        if (rotated.KeyId == 0) return (0, []);
        await transaction.CommitAsync(ct);
        return rotated;
    }

    /// <summary>
    /// Makes <paramref name="publicKey"/> (with its <paramref name="certificate"/>, once the account has an identity)
    /// the current key of device <paramref name="deviceId"/> under the key id after <paramref name="currentKeyId"/>, and
    /// ends every other session of that device but <paramref name="keepSession"/>, in one statement. Returns the new
    /// key id (0 when the key changed meanwhile) and the sessions that ended.
    /// </summary>
    public async Task<(int KeyId, Guid[] EndedSessions)> RotateKeyAsync(
        Guid id, int deviceId, int currentKeyId, byte[] publicKey, byte[]? certificate, Guid keepSession, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await RotateKeyAsync(connection, null, id, deviceId, currentKeyId, publicKey, certificate, keepSession, ct);
    }

    private static async Task<(int KeyId, Guid[] EndedSessions)> RotateKeyAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid id, int deviceId, int currentKeyId, byte[] publicKey, byte[]? certificate,
        Guid keepSession, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            WITH bumped AS (
                UPDATE devices SET key_id = key_id + 1
                WHERE account_id = $1 AND device_id = $6 AND key_id = $4 AND removed_at IS NULL
                  AND EXISTS (SELECT 1 FROM accounts WHERE id = $1 AND deleted_at IS NULL)
                RETURNING key_id),
            added AS (
                INSERT INTO account_keys (account_id, device_id, key_id, public_key, certificate, created_at)
                SELECT $1, $6, key_id, $2, $5, now() FROM bumped),
            ended AS (
                UPDATE sessions SET revoked_at = now()
                WHERE account_id = $1 AND device_id = $6 AND id <> $3 AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM bumped)
                RETURNING id)
            SELECT coalesce((SELECT key_id FROM bumped), 0), array(SELECT id FROM ended)
            """, connection, transaction);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = publicKey });
        cmd.Parameters.Add(new() { Value = keepSession });
        cmd.Parameters.Add(new() { Value = currentKeyId });
        cmd.Parameters.Add(new() { Value = (object?)certificate ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bytea });
        cmd.Parameters.Add(new() { Value = deviceId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt32(0), reader.GetFieldValue<Guid[]>(1));
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
