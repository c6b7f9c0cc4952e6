using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Sealpost.ServiceDefaults;

namespace Sealpost.Messages.Mailboxes;

/// <summary>
/// Mailboxes in PostgreSQL (the service's own database). Sends and acks that arrive together are written in one
/// statement and one commit each, which is what lets durable acceptance keep up with many clients.
/// </summary>
public sealed class PostgresMailboxStore : IMailboxStore, IAsyncDisposable
{
    private const int SweepChunk = 5000;
    private readonly NpgsqlDataSource _db;
    private readonly MailboxOptions _options;
    private readonly Batcher<NewMessage, AcceptResult> _sends;
    private readonly Batcher<(string Recipient, Guid Id), bool> _acks;

    public PostgresMailboxStore(NpgsqlDataSource db, IOptions<MailboxOptions> options)
    {
        _db = db;
        _options = options.Value;
        _sends = new((batch, ct) => GuardAsync(() => WriteSendsAsync(batch, ct)), _options.WriteBatchSize, concurrency: 4);
        _acks = new((batch, ct) => GuardAsync(() => DeleteAckedAsync(batch, ct)), _options.WriteBatchSize, concurrency: 2);
    }

    public Task<AcceptResult> AcceptAsync(NewMessage message, CancellationToken ct) => _sends.EnqueueAsync(message, ct);

    public Task<bool> AckAsync(string recipient, Guid messageId, CancellationToken ct) => _acks.EnqueueAsync((recipient, messageId), ct);

    public Task<IReadOnlyList<StoredMessage>> PendingAsync(string recipient, IReadOnlyCollection<Guid> exclude, int limit, CancellationToken ct) =>
        GuardAsync(() => ReadPendingAsync(recipient, exclude, limit, ct));

    public Task<IReadOnlyCollection<Guid>> StillPendingAsync(string recipient, IReadOnlyCollection<Guid> ids, CancellationToken ct) =>
        GuardAsync(() => ReadStillPendingAsync(recipient, ids, ct));

    public Task<int> SweepAsync(CancellationToken ct) => GuardAsync(() => DeleteExpiredAsync(ct));

    public Task PingAsync(CancellationToken ct) => GuardAsync(async () =>
    {
        await using var cmd = _db.CreateCommand("SELECT 1");
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
            _db.ClearIfBroken(e);
            throw;
        }
    }

    private async Task<IReadOnlyList<StoredMessage>> ReadPendingAsync(string recipient, IReadOnlyCollection<Guid> exclude, int limit, CancellationToken ct)
    {
        await using var cmd = _db.CreateCommand("""
            SELECT id, sender, body, sent_at FROM messages
            WHERE recipient = $1 AND NOT (id = ANY ($2)) AND expires_at > now()
            ORDER BY id LIMIT $3
            """);
        cmd.Parameters.Add(new() { Value = recipient });
        cmd.Parameters.Add(new() { Value = exclude.ToArray() });
        cmd.Parameters.Add(new() { Value = limit });
        var found = new List<StoredMessage>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            found.Add(new StoredMessage(reader.GetGuid(0), reader.GetString(1), recipient, (byte[])reader[2], reader.GetFieldValue<DateTimeOffset>(3)));
        return found;
    }

    private async Task<IReadOnlyCollection<Guid>> ReadStillPendingAsync(string recipient, IReadOnlyCollection<Guid> ids, CancellationToken ct)
    {
        await using var cmd = _db.CreateCommand("SELECT id FROM messages WHERE recipient = $1 AND id = ANY ($2)");
        cmd.Parameters.Add(new() { Value = recipient });
        cmd.Parameters.Add(new() { Value = ids.ToArray() });
        var found = new HashSet<Guid>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) found.Add(reader.GetGuid(0));
        return found;
    }

    private async Task<int> DeleteExpiredAsync(CancellationToken ct)
    {
        var expired = 0;
        int deleted;
        do
        {
            await using var cmd = _db.CreateCommand("""
                WITH doomed AS (SELECT id FROM messages WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                DELETE FROM messages m USING doomed d WHERE m.id = d.id
                """);
            cmd.Parameters.Add(new() { Value = SweepChunk });
            deleted = await cmd.ExecuteNonQueryAsync(ct);
            expired += deleted;
        }
        while (deleted == SweepChunk);
        do
        {
            await using var cmd = _db.CreateCommand("""
                DELETE FROM send_log WHERE ctid = ANY (ARRAY(SELECT ctid FROM send_log WHERE sent_at < now() - $1 LIMIT $2))
                """);
            cmd.Parameters.Add(new() { Value = _options.MessageLifetime });
            cmd.Parameters.Add(new() { Value = SweepChunk });
            deleted = await cmd.ExecuteNonQueryAsync(ct);
        }
        while (deleted == SweepChunk);
        return expired;
    }

    private async Task<AcceptResult[]> WriteSendsAsync(IReadOnlyList<NewMessage> batch, CancellationToken ct)
    {
        // One (sender, client id) twice in a batch is written once; the later copies answer as duplicates.
        var leaders = new Dictionary<(string, Guid), int>();
        var unique = new List<int>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            if (leaders.TryAdd((batch[i].Sender, batch[i].ClientId), unique.Count)) unique.Add(i);
        }
        var ids = unique.Select(i => batch[i].Id).ToArray();
        var results = new AcceptResult?[unique.Count];

        await using (var cmd = _db.CreateCommand("""
            WITH input AS (
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::bytea[]) WITH ORDINALITY
                    AS t (id, recipient, sender, client_id, body, ord)),
            logged AS (
                INSERT INTO send_log (sender, client_id, message_id, sent_at)
                SELECT i.sender, i.client_id, i.id, now() FROM input i
                WHERE (SELECT count(*) FROM (SELECT 1 FROM messages m WHERE m.recipient = i.recipient LIMIT $6) q) < $6
                ON CONFLICT (sender, client_id) DO NOTHING
                RETURNING message_id),
            stored AS (
                INSERT INTO messages (id, recipient, sender, body, sent_at, expires_at)
                SELECT i.id, i.recipient, i.sender, i.body, now(), now() + $7 FROM input i JOIN logged l ON l.message_id = i.id)
            SELECT i.ord, l.message_id IS NOT NULL, e.message_id, e.sent_at, now()
            FROM input i
            LEFT JOIN logged l ON l.message_id = i.id
            LEFT JOIN send_log e ON e.sender = i.sender AND e.client_id = i.client_id
            """))
        {
            cmd.Parameters.Add(new() { Value = ids });
            cmd.Parameters.Add(new() { Value = unique.Select(i => batch[i].Recipient).ToArray() });
            cmd.Parameters.Add(new() { Value = unique.Select(i => batch[i].Sender).ToArray() });
            cmd.Parameters.Add(new() { Value = unique.Select(i => batch[i].ClientId).ToArray() });
            cmd.Parameters.Add(new() { Value = unique.Select(i => batch[i].Body).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
            cmd.Parameters.Add(new() { Value = (long)_options.Quota });
            cmd.Parameters.Add(new() { Value = _options.MessageLifetime });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var k = (int)reader.GetInt64(0) - 1;
                var now = reader.GetFieldValue<DateTimeOffset>(4);
                if (reader.GetBoolean(1)) results[k] = new(AcceptStatus.Stored, ids[k], now);
                else if (!reader.IsDBNull(2)) results[k] = new(AcceptStatus.Duplicate, reader.GetGuid(2), reader.GetFieldValue<DateTimeOffset>(3));
            }
        }

        // Neither stored nor seen before this statement began: a full mailbox, or a concurrent send of the same
        // client id that committed meanwhile. A fresh look tells which.
        for (var k = 0; k < unique.Count; k++)
        {
            if (results[k] is not null) continue;
            var message = batch[unique[k]];
            await using var cmd = _db.CreateCommand("SELECT message_id, sent_at FROM send_log WHERE sender = $1 AND client_id = $2");
            cmd.Parameters.Add(new() { Value = message.Sender });
            cmd.Parameters.Add(new() { Value = message.ClientId });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            results[k] = await reader.ReadAsync(ct)
                ? new(AcceptStatus.Duplicate, reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1))
                : new(AcceptStatus.MailboxFull, Guid.Empty, default);
        }

        var answers = new AcceptResult[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var k = leaders[(batch[i].Sender, batch[i].ClientId)];
            var result = results[k]!.Value;
            answers[i] = unique[k] == i || result.Status != AcceptStatus.Stored ? result : result with { Status = AcceptStatus.Duplicate };
        }
        return answers;
    }

    private async Task<bool[]> DeleteAckedAsync(IReadOnlyList<(string Recipient, Guid Id)> batch, CancellationToken ct)
    {
        await using var cmd = _db.CreateCommand("""
            DELETE FROM messages m USING unnest($1::text[], $2::uuid[]) AS a (recipient, id)
            WHERE m.id = a.id AND m.recipient = a.recipient
            RETURNING m.id
            """);
        cmd.Parameters.Add(new() { Value = batch.Select(b => b.Recipient).ToArray() });
        cmd.Parameters.Add(new() { Value = batch.Select(b => b.Id).ToArray() });
        var deleted = new HashSet<Guid>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct)) deleted.Add(reader.GetGuid(0));
        return batch.Select(b => deleted.Contains(b.Id)).ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await _sends.DisposeAsync();
        await _acks.DisposeAsync();
    }
}
