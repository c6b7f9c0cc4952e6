using Npgsql;
using Sealpost.Users.Devices;

namespace Sealpost.Users.Links;

/// <summary>
/// Every SQL statement about links (docs/devices.md, "Linking a new device"); all parameterised. Reserving and
/// approving lock the account's row first, then the link's, so they take turns with each other and with removals.
/// </summary>
public sealed class LinkStore(NpgsqlDataSource db)
{
    /// <summary>Stores a new link for the account <paramref name="forAccountId"/> to approve; returns when it expires.</summary>
    public async Task<DateTimeOffset> CreateAsync(
        Guid id, byte[] pollHash, string deviceName, byte[] publicKey, Guid forAccountId, TimeSpan lifetime, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO links (id, poll_hash, device_name, public_key, for_account_id, expires_at) VALUES ($1, $2, $3, $4, $5, now() + $6)
            RETURNING expires_at
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = pollHash });
        cmd.Parameters.Add(new() { Value = deviceName });
        cmd.Parameters.Add(new() { Value = publicKey });
        cmd.Parameters.Add(new() { Value = forAccountId });
        cmd.Parameters.Add(new() { Value = lifetime });
        return new DateTimeOffset((DateTime)(await cmd.ExecuteScalarAsync(ct))!, TimeSpan.Zero);
    }

    public async Task<LinkRecord?> FindAsync(Guid id, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await FindAsync(connection, null, id, forUpdate: false, ct);
    }

    /// <summary>
    /// Reserves the account's next device id for the link (once: the same account gets the same reservation again),
    /// unless the link is for another account (answered as unknown), it is gone or approved, or the account has as many
    /// live devices as it may.
    /// </summary>
    public async Task<(LinkOutcome Outcome, LinkRecord? Link)> ReserveAsync(Guid id, Guid accountId, int devicesMax, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await DeviceStore.LockAccountAsync(connection, tx, accountId, ct);
        var link = await FindAsync(connection, tx, id, forUpdate: true, ct);
        if (link is null || !link.IsFor(accountId)) return (LinkOutcome.Unknown, null);
        if (link.Gone || link.Approved) return (LinkOutcome.Gone, null);
        if (link.AccountId == accountId) return (LinkOutcome.Done, link);
        if (link.AccountId is not null) return (LinkOutcome.TakenByAnotherAccount, null);
        if (await LiveDevicesAsync(connection, tx, accountId, ct) >= devicesMax) return (LinkOutcome.TooManyDevices, null);
        await using var reserve = new NpgsqlCommand("""
            WITH next AS (UPDATE accounts SET next_device_id = next_device_id + 1 WHERE id = $2 RETURNING next_device_id - 1 AS device_id)
            UPDATE links SET account_id = $2, device_id = (SELECT device_id FROM next) WHERE id = $1
            RETURNING device_id
            """, connection, tx);
        reserve.Parameters.Add(new() { Value = id });
        reserve.Parameters.Add(new() { Value = accountId });
        var deviceId = (int)(await reserve.ExecuteScalarAsync(ct))!;
        await tx.CommitAsync(ct);
        return (LinkOutcome.Done, link with { AccountId = accountId, DeviceId = deviceId });
    }

    /// <summary>
    /// Creates the device the link reserved (its name, key id 1 with <paramref name="certificate"/>) and stores the
    /// certificate and the sealed secret for the new device's poll, in one transaction; the checks the caller made
    /// before verifying the certificate are made again under the locks.
    /// </summary>
    public async Task<LinkOutcome> ApproveAsync(
        Guid id, Guid accountId, int deviceId, byte[] certificate, byte[] sealedSecret, int devicesMax, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await DeviceStore.LockAccountAsync(connection, tx, accountId, ct);
        var link = await FindAsync(connection, tx, id, forUpdate: true, ct);
        if (link is null || !link.IsFor(accountId)) return LinkOutcome.Unknown;
        if (link.Gone || link.Approved) return LinkOutcome.Gone;
        if (link.AccountId is null) return LinkOutcome.NotReserved;
        if (link.AccountId != accountId || link.DeviceId != deviceId) return LinkOutcome.TakenByAnotherAccount;
        if (await LiveDevicesAsync(connection, tx, accountId, ct) >= devicesMax) return LinkOutcome.TooManyDevices;
        await using var batch = new NpgsqlBatch(connection, tx)
        {
            BatchCommands =
            {
                new("INSERT INTO devices (account_id, device_id, name, key_id) SELECT account_id, device_id, device_name, 1 FROM links WHERE id = $1")
                {
                    Parameters = { new() { Value = id } },
                },
                new("""
                    INSERT INTO account_keys (account_id, device_id, key_id, public_key, certificate)
                    SELECT account_id, device_id, 1, public_key, $2 FROM links WHERE id = $1
                    """)
                {
                    Parameters = { new() { Value = id }, new() { Value = certificate } },
                },
                new("UPDATE links SET certificate = $2, sealed_secret = $3, approved_at = now() WHERE id = $1")
                {
                    Parameters = { new() { Value = id }, new() { Value = certificate }, new() { Value = sealedSecret } },
                },
            },
        };
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        return LinkOutcome.Done;
    }

    /// <summary>
    /// Uses up an approved, unexpired link whose device is live: marks it used, forgets the sealed secret, and opens a
    /// session for the new device, in one statement. Returns the username, the device and the sealed secret, or null
    /// when the link is not (or no longer) there to use.
    /// </summary>
    public async Task<(string Username, int DeviceId, byte[] SealedSecret)?> UseAsync(
        Guid id, Guid sessionId, byte[] refreshHash, DateTimeOffset refreshExpires, CancellationToken ct)
    {
        // The self-join returns the sealed secret as it was before this statement cleared it.
        await using var cmd = db.CreateCommand("""
            WITH used AS (
                UPDATE links l SET used_at = now(), sealed_secret = NULL FROM links old
                WHERE l.id = $1 AND old.id = $1 AND l.approved_at IS NOT NULL AND l.used_at IS NULL AND l.expires_at > now()
                  AND EXISTS (SELECT 1 FROM devices d WHERE d.account_id = l.account_id AND d.device_id = l.device_id AND d.removed_at IS NULL)
                RETURNING l.account_id, l.device_id, old.sealed_secret),
            session AS (
                INSERT INTO sessions (id, account_id, device_id, refresh_hash, expires_at)
                SELECT $2, account_id, device_id, $3, $4 FROM used)
            SELECT a.username, u.device_id, u.sealed_secret FROM used u JOIN accounts a ON a.id = u.account_id
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = sessionId });
        cmd.Parameters.Add(new() { Value = refreshHash });
        cmd.Parameters.Add(new() { Value = refreshExpires });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetString(0), reader.GetInt32(1), (byte[])reader[2]) : null;
    }

    private static async Task<LinkRecord?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, Guid id, bool forUpdate, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"SELECT {LinkRecord.Columns} FROM links WHERE id = $1{(forUpdate ? " FOR UPDATE" : "")}", connection, tx);
        cmd.Parameters.Add(new() { Value = id });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? LinkRecord.Read(reader) : null;
    }

    private static async Task<long> LiveDevicesAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid accountId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM devices WHERE account_id = $1 AND removed_at IS NULL", connection, tx);
        cmd.Parameters.Add(new() { Value = accountId });
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }
}
