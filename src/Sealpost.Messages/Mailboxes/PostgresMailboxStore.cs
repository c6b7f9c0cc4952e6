using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Sealpost.ServiceDefaults;

namespace Sealpost.Messages.Mailboxes;

/// <summary>
/// Mailboxes in one PostgreSQL database (one cluster of <see cref="MailboxClusters"/>): one row per waiting message,
/// keyed by (recipient, id). Every call is one round trip; batching is the caller's (<see cref="MailboxWriter"/>).
/// Writes and reads check, in the same round trip, that this database holds the recipient's shard
/// (<see cref="MailboxShards"/>): a write for a shard held elsewhere stores nothing and answers
/// <see cref="AcceptStatus.ShardElsewhere"/>, a read throws <see cref="ShardElsewhereException"/>.
/// </summary>
internal sealed class PostgresMailboxStore(NpgsqlDataSource db, IOptions<MailboxOptions> options) : IMailboxStore
{
    private const int SweepChunk = 5000;
    private readonly MailboxOptions _options = options.Value;

    public Task<AcceptResult[]> StoreAsync(IReadOnlyList<NewMessage> batch, CancellationToken ct) => GuardAsync(() => WriteAsync(batch, ct));

    // One statement per mailbox, all in one round trip: each is a lookup in the primary key whatever the planner
    // believes about the table. A join with the list of acks was planned as a scan of the whole table (hashed)
    // whenever the statistics said the table was empty, which for a queue they often do (docs/decisions.md).
    public Task DeleteAsync(IReadOnlyList<(string Recipient, Guid Id)> acked, CancellationToken ct) => GuardAsync(async () =>
    {
        if (acked.Count == 0) return 0;
        await using var batch = db.CreateBatch();
        foreach (var mailbox in acked.GroupBy(a => a.Recipient, StringComparer.Ordinal))
        {
            var cmd = new NpgsqlBatchCommand("DELETE FROM messages WHERE recipient = $1 AND id = ANY ($2)");
            cmd.Parameters.Add(new() { Value = mailbox.Key });
            cmd.Parameters.Add(new() { Value = mailbox.Select(a => a.Id).ToArray() });
            batch.BatchCommands.Add(cmd);
        }
        return await batch.ExecuteNonQueryAsync(ct);
    });

    public Task DeleteMailboxAsync(string recipient, CancellationToken ct) => GuardAsync(async () =>
    {
        await using var cmd = db.CreateCommand("DELETE FROM messages WHERE recipient = $1");
        cmd.Parameters.Add(new() { Value = recipient });
        return await cmd.ExecuteNonQueryAsync(ct);
    });

    public Task<IReadOnlyList<StoredMessage>> PendingAsync(string recipient, IReadOnlyCollection<Guid> exclude, int limit, CancellationToken ct) =>
        GuardAsync<IReadOnlyList<StoredMessage>>(async () =>
        {
            await using var batch = ShardChecked(recipient, """
                SELECT id, sender, client_id, body, sent_at FROM messages
                WHERE recipient = $1 AND NOT (id = ANY ($2)) AND sent_at > now() - $4
                ORDER BY id LIMIT $3
                """, recipient, exclude.ToArray(), limit, _options.MessageLifetime);
            var found = new List<StoredMessage>();
            await using var reader = await ReadShardCheckedAsync(batch, recipient, ct);
            while (await reader.ReadAsync(ct))
                found.Add(new StoredMessage(reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetGuid(2),
                    (byte[])reader[3], reader.GetFieldValue<DateTimeOffset>(4)));
            return found;
        });

    public Task<IReadOnlyCollection<Guid>> StillPendingAsync(string recipient, IReadOnlyCollection<Guid> ids, CancellationToken ct) =>
        GuardAsync<IReadOnlyCollection<Guid>>(async () =>
        {
            await using var batch = ShardChecked(recipient, "SELECT id FROM messages WHERE recipient = $1 AND id = ANY ($2)", recipient, ids.ToArray());
            var found = new HashSet<Guid>();
            await using var reader = await ReadShardCheckedAsync(batch, recipient, ct);
            while (await reader.ReadAsync(ct)) found.Add(reader.GetGuid(0));
            return found;
        });

    /// <summary>Which shards this database holds, and in what state ('owned', 'moving', 'gone').</summary>
    public Task<IReadOnlyDictionary<int, string>> ShardStatesAsync(CancellationToken ct) => GuardAsync<IReadOnlyDictionary<int, string>>(async () =>
    {
        await using var cmd = db.CreateCommand("SELECT shard, state FROM mailbox_shards");
        var states = new Dictionary<int, string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) states[reader.GetInt16(0)] = reader.GetString(1);
        return states;
    });

    /// <summary>Claims <paramref name="shards"/> for this database if it holds none yet (its first start); otherwise changes nothing.</summary>
    public Task ClaimShardsAsync(IReadOnlyCollection<int> shards, CancellationToken ct) => GuardAsync(async () =>
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO mailbox_shards (shard, state) SELECT s, 'owned' FROM unnest($1::smallint[]) AS s
            WHERE NOT EXISTS (SELECT FROM mailbox_shards) ON CONFLICT DO NOTHING
            """);
        cmd.Parameters.Add(new() { Value = shards.Select(s => (short)s).ToArray() });
        return await cmd.ExecuteNonQueryAsync(ct);
    });

    // A read and the check that this database holds the recipient's shard, in one round trip.
    private NpgsqlBatch ShardChecked(string recipient, string sql, params object[] parameters)
    {
        var batch = db.CreateBatch();
        var check = new NpgsqlBatchCommand("SELECT coalesce((SELECT state FROM mailbox_shards WHERE shard = $1), 'gone')");
        check.Parameters.Add(new() { Value = (short)MailboxShards.Of(recipient) });
        batch.BatchCommands.Add(check);
        var read = new NpgsqlBatchCommand(sql);
        foreach (var p in parameters) read.Parameters.Add(new() { Value = p });
        batch.BatchCommands.Add(read);
        return batch;
    }

    private static async Task<NpgsqlDataReader> ReadShardCheckedAsync(NpgsqlBatch batch, string recipient, CancellationToken ct)
    {
        var reader = await batch.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var state = reader.GetString(0);
        await reader.NextResultAsync(ct);
        if (state == "owned") return reader;
        await reader.DisposeAsync();
        throw new ShardElsewhereException(MailboxShards.Of(recipient));
    }

    public Task<int> SweepAsync(CancellationToken ct) => GuardAsync(async () =>
    {
        var expired = 0;
        int deleted;
        do
        {
            await using var cmd = db.CreateCommand("""
                DELETE FROM messages WHERE ctid = ANY (ARRAY(SELECT ctid FROM messages WHERE sent_at <= now() - $1 LIMIT $2))
                """);
            cmd.Parameters.Add(new() { Value = _options.MessageLifetime });
            cmd.Parameters.Add(new() { Value = SweepChunk });
            deleted = await cmd.ExecuteNonQueryAsync(ct);
            expired += deleted;
        }
        while (deleted == SweepChunk);
        // Yesterday's counts are kept until today ends (a sender's day is UTC's); older ones count for nothing.
        await using (var prune = db.CreateCommand("DELETE FROM sender_days WHERE day < $1"))
        {
            prune.Parameters.Add(new() { Value = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-1) });
            await prune.ExecuteNonQueryAsync(ct);
        }
        return expired;
    });

    public Task<MailboxDepth> DepthAsync(CancellationToken ct) => GuardAsync(async () =>
    {
        await using var cmd = db.CreateCommand("""
            SELECT coalesce(sum(n), 0)::bigint, count(*), count(*) FILTER (WHERE n >= 10), count(*) FILTER (WHERE n >= 100),
                   count(*) FILTER (WHERE n >= 1000), count(*) FILTER (WHERE n >= 10000), coalesce(max(n), 0),
                   coalesce(extract(epoch FROM now() - min(oldest)), 0)::float8
            FROM (SELECT count(*) AS n, min(sent_at) AS oldest FROM messages GROUP BY recipient) AS mailbox
            """);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new MailboxDepth(reader.GetInt64(0), [reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)],
            reader.GetInt64(6), reader.GetDouble(7));
    });

    public Task PingAsync(CancellationToken ct) => GuardAsync(async () =>
    {
        await using var cmd = db.CreateCommand("SELECT 1");
        return await cmd.ExecuteScalarAsync(ct);
    });

    private async Task<T> GuardAsync<T>(Func<Task<T>> work)
    {
        try
        {
            return await work();
        }
        catch (Exception e)
        {
            db.ClearIfBroken(e);
            throw;
        }
    }

    private async Task<AcceptResult[]> WriteAsync(IReadOnlyList<NewMessage> batch, CancellationToken ct)
    {
        var results = new AcceptResult?[batch.Count];
        var refused = new AcceptStatus?[batch.Count];
        // One statement, one commit. Each message gets a verdict: the recipient's mailbox full (counted up to the quota,
        // once per recipient); the sender account's share of it full (counted only when the mailbox could hold that many); the
        // sender account's stored messages for today spent (one row per account and day, bumped by what this statement stores).
        // A sender is a device address ('alice', 'alice/2'), and both limits are the account's, all its devices together
        // (security review M2, decision 85): 'sender' compares bytewise (migration 0006), so an account's devices are one
        // range of the (recipient, sender, client_id) index, [account, account || '0') ('/' sorts below every character
        // a username may hold, and no other username falls inside).
        // A resend of a message that waits (the same sender's client id) moves the waiting row to the resend's newer id:
        // a sender that lost its connection (or the instance it was on) resends everything unanswered, in order, and
        // some of those may have been stored before under their old ids while the rest were not; moved, they all stand
        // in the mailbox in the order they were resent, which is the order they were first sent. A write that comes
        // later with an older id (the old instance's, landing after the resend's) changes nothing, nor does the same
        // message written twice. Each device's copy is its own row (the key is sender, client id and recipient device). Rows
        // go in ordered by that key, so two batches that share resends take
        // their index locks in the same order and never deadlock; the order inside one commit changes nothing anyone
        // can see.
        // Like the quota, the per-sender limits are exact to within the write batches in flight at once.
        // The counts walk an index in its own order (ORDER BY): a mailbox table is a queue, so its statistics are nearly
        // always stale (analysed empty, or while one big mailbox filled it), and on them the planner chose a sequential
        // scan of the whole table per recipient and batch, which made a long-lived system's mailbox writes 3-5x slower.
        await using (var cmd = db.CreateCommand("""
            WITH input AS (
                SELECT t.*, split_part(t.sender, '/', 1) AS account
                FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::bytea[], $6::timestamptz[], $11::smallint[]) WITH ORDINALITY
                    AS t (id, recipient, sender, client_id, body, sent_at, shard, ord)),
            mailboxes AS (
                SELECT r.recipient, (SELECT count(*) FROM (SELECT 1 FROM messages m WHERE m.recipient = r.recipient ORDER BY m.recipient, m.id LIMIT $7) q) AS waiting
                FROM (SELECT DISTINCT recipient FROM input) r),
            shares AS (
                SELECT p.recipient, p.account, CASE WHEN b.waiting + p.sending > $8
                    THEN (SELECT count(*) FROM (SELECT 1 FROM messages m
                        WHERE m.recipient = p.recipient AND m.sender >= p.account AND m.sender < (p.account || '0')
                        ORDER BY m.recipient, m.sender, m.client_id LIMIT $8) q)
                    ELSE 0 END AS waiting
                FROM (SELECT recipient, account, count(*) AS sending FROM input GROUP BY recipient, account) p JOIN mailboxes b USING (recipient)),
            spent AS (
                SELECT d.sender AS account, d.stored FROM (SELECT DISTINCT account FROM input) s JOIN sender_days d ON d.sender = s.account AND d.day = $10),
            -- A verdict is an AcceptStatus value: 0 Stored (if nothing conflicts), 2 MailboxFull, 3 SenderShareFull,
            -- 4 SenderDailyLimit, 5 ShardElsewhere (this database does not hold the recipient's shard, or it is being
            -- moved: checked in this statement, so a shard move that marked it 'moving' sees no later write here); a
            -- message that should have been stored but was not (a conflict) reports 2 until the lookup below finds the
            -- copy that waits.
            verdicts AS (
                SELECT i.*, CASE
                    WHEN NOT EXISTS (SELECT FROM mailbox_shards o WHERE o.shard = i.shard AND o.state = 'owned') THEN 5
                    WHEN b.waiting >= $7 THEN 2
                    WHEN p.waiting + row_number() OVER (PARTITION BY i.recipient, i.account ORDER BY i.ord) > $8 THEN 3
                    WHEN coalesce(d.stored, 0) + row_number() OVER (PARTITION BY i.account ORDER BY i.ord) > $9 THEN 4
                    ELSE 0 END AS verdict
                FROM input i JOIN mailboxes b USING (recipient) JOIN shares p USING (recipient, account) LEFT JOIN spent d USING (account)),
            stored AS (
                INSERT INTO messages AS m (recipient, id, sender, client_id, body, sent_at)
                SELECT DISTINCT ON (sender, client_id, recipient) recipient, id, sender, client_id, body, sent_at FROM verdicts WHERE verdict = 0
                ORDER BY sender, client_id, recipient, ord
                ON CONFLICT (sender, client_id, recipient) DO UPDATE SET id = excluded.id, sent_at = excluded.sent_at
                    WHERE m.id < excluded.id
                RETURNING id, sender),
            counted AS (
                INSERT INTO sender_days (sender, day, stored) SELECT split_part(sender, '/', 1), $10, count(*) FROM stored GROUP BY 1
                ON CONFLICT (sender, day) DO UPDATE SET stored = sender_days.stored + excluded.stored)
            SELECT v.ord, CASE WHEN s.id IS NOT NULL THEN 0 WHEN v.verdict = 0 THEN 2 ELSE v.verdict END
            FROM verdicts v LEFT JOIN stored s ON s.id = v.id
            """))
        {
            cmd.Parameters.Add(new() { Value = batch.Select(m => m.Id).ToArray() });
            cmd.Parameters.Add(new() { Value = batch.Select(m => m.Recipient).ToArray() });
            cmd.Parameters.Add(new() { Value = batch.Select(m => m.Sender).ToArray() });
            cmd.Parameters.Add(new() { Value = batch.Select(m => m.ClientId).ToArray() });
            cmd.Parameters.Add(new() { Value = batch.Select(m => Convert.FromBase64String(m.Body)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
            cmd.Parameters.Add(new() { Value = batch.Select(m => m.SentAt).ToArray() });
            cmd.Parameters.Add(new() { Value = (long)_options.Quota });
            cmd.Parameters.Add(new() { Value = (long)_options.QuotaPerSender });
            cmd.Parameters.Add(new() { Value = (long)_options.StoredPerSenderPerDay });
            cmd.Parameters.Add(new() { Value = DateOnly.FromDateTime(DateTime.UtcNow) });
            cmd.Parameters.Add(new() { Value = batch.Select(m => (short)MailboxShards.Of(m.Recipient)).ToArray() });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var k = (int)reader.GetInt64(0) - 1;
                var status = (AcceptStatus)reader.GetInt32(1);
                if (status == AcceptStatus.Stored) results[k] = new(AcceptStatus.Stored, batch[k].Id, batch[k].SentAt);
                else refused[k] = status;
            }
        }
        if (results.All(r => r is not null)) return [.. results.Select(r => r!.Value)];

        // Not stored: a copy older than the one that waits (which answers, whatever the limits say), or refused.
        var missing = Enumerable.Range(0, batch.Count).Where(k => results[k] is null).ToList();
        await using (var cmd = db.CreateCommand("""
            SELECT m.sender, m.client_id, m.recipient, m.id, m.sent_at FROM messages m
            JOIN unnest($1::text[], $2::uuid[], $3::text[]) AS w (sender, client_id, recipient)
                ON m.sender = w.sender AND m.client_id = w.client_id AND m.recipient = w.recipient
            """))
        {
            cmd.Parameters.Add(new() { Value = missing.Select(k => batch[k].Sender).ToArray() });
            cmd.Parameters.Add(new() { Value = missing.Select(k => batch[k].ClientId).ToArray() });
            cmd.Parameters.Add(new() { Value = missing.Select(k => batch[k].Recipient).ToArray() });
            var existing = new Dictionary<(string, Guid, string), AcceptResult>();
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                existing[(reader.GetString(0), reader.GetGuid(1), reader.GetString(2))] = new(AcceptStatus.Duplicate, reader.GetGuid(3), reader.GetFieldValue<DateTimeOffset>(4));
            foreach (var k in missing)
                results[k] = existing.TryGetValue((batch[k].Sender, batch[k].ClientId, batch[k].Recipient), out var first) ? first : new(refused[k]!.Value, Guid.Empty, default);
        }
        return [.. results.Select(r => r!.Value)];
    }
}
