using Npgsql;

namespace Sealpost.Users.Devices;

/// <summary>Every SQL statement about an account's devices (linking is in <c>LinkStore</c>); all parameterised.</summary>
public sealed class DeviceStore(NpgsqlDataSource db)
{
    private const string Columns = "d.device_id, d.key_id, k.public_key, k.certificate, k.created_at, d.name, d.created_at";
    private const string WithCurrentKey = "JOIN account_keys k ON k.account_id = d.account_id AND k.device_id = d.device_id AND k.key_id = d.key_id";

    /// <summary>The account's live devices with their current keys, by device id.</summary>
    public async Task<IReadOnlyList<DeviceRecord>> ListAsync(Guid accountId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"""
            SELECT {Columns} FROM devices d {WithCurrentKey}
            WHERE d.account_id = $1 AND d.removed_at IS NULL ORDER BY d.device_id
            """);
        cmd.Parameters.Add(new() { Value = accountId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var devices = new List<DeviceRecord>();
        while (await reader.ReadAsync(ct)) devices.Add(Read(reader));
        return devices;
    }

    /// <summary>Renames a live device; null when the account has no such live device.</summary>
    public async Task<DeviceRecord?> RenameAsync(Guid accountId, int deviceId, string name, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"""
            WITH d AS (
                UPDATE devices SET name = $3 WHERE account_id = $1 AND device_id = $2 AND removed_at IS NULL
                RETURNING account_id, device_id, key_id, name, created_at)
            SELECT {Columns} FROM d {WithCurrentKey}
            """);
        cmd.Parameters.Add(new() { Value = accountId });
        cmd.Parameters.Add(new() { Value = deviceId });
        cmd.Parameters.Add(new() { Value = name });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>
    /// Removes the live device <paramref name="deviceId"/> at the request of the account's live device
    /// <paramref name="callerDeviceId"/>, and ends its sessions. Its keys stay, so what it sealed still verifies.
    /// Returns the sessions that ended, or null when there was no such live device (or the caller's is gone).
    /// </summary>
    public async Task<Guid[]?> RemoveAsync(Guid accountId, int callerDeviceId, int deviceId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // One change of an account's devices at a time: two devices removing each other at once leave one of them.
        await LockAccountAsync(connection, tx, accountId, ct);
        await using var cmd = new NpgsqlCommand("""
            WITH removed AS (
                UPDATE devices SET removed_at = now()
                WHERE account_id = $1 AND device_id = $3 AND removed_at IS NULL
                  AND EXISTS (SELECT 1 FROM devices WHERE account_id = $1 AND device_id = $2 AND removed_at IS NULL)
                RETURNING device_id),
            ended AS (
                UPDATE sessions SET revoked_at = now()
                WHERE account_id = $1 AND device_id = (SELECT device_id FROM removed) AND revoked_at IS NULL
                RETURNING id)
            SELECT EXISTS (SELECT 1 FROM removed), array(SELECT id FROM ended)
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = accountId });
        cmd.Parameters.Add(new() { Value = callerDeviceId });
        cmd.Parameters.Add(new() { Value = deviceId });
        Guid[]? ended;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            ended = reader.GetBoolean(0) ? reader.GetFieldValue<Guid[]>(1) : null;
        }
        await tx.CommitAsync(ct);
        return ended;
    }

    /// <summary>Holds the account's row until the transaction ends: changes to its set of devices take turns.</summary>
    public static async Task LockAccountAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid accountId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", connection, tx);
        cmd.Parameters.Add(new() { Value = accountId });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static DeviceRecord Read(NpgsqlDataReader reader) =>
        new(reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6), DeviceKeyRecord.Read(reader));
}
