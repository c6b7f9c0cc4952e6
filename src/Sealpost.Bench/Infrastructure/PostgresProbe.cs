using Npgsql;
using Sealpost.Protocol;

namespace Sealpost.Bench.Infrastructure;

/// <summary>
/// Reads PostgreSQL's own counters (commits, WAL flushes) and the mailbox table, so a report can say how many
/// messages each commit carried and check server-side that a drained mailbox is empty. Optional: without a
/// connection string (or the PostgreSQL address and password file named in <c>.run/stack.env</c>) the figures are left out.
/// </summary>
public sealed class PostgresProbe : IAsyncDisposable
{
    private readonly NpgsqlDataSource _messages;

    private PostgresProbe(NpgsqlDataSource messages) => _messages = messages;

    public static async Task<PostgresProbe?> TryOpenAsync(string? connectionString, StackFile? stack, CancellationToken ct)
    {
        if (connectionString is null && stack?["postgres"] is { } server && stack["postgres_password_file"] is { } secret && File.Exists(secret))
        {
            var (host, port) = (server[..server.LastIndexOf(':')], server[(server.LastIndexOf(':') + 1)..]);
            connectionString = new NpgsqlConnectionStringBuilder
            {
                Host = host, Port = int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), Username = stack["postgres_user"] ?? "sealpost",
                Password = (await File.ReadAllTextAsync(secret, ct)).Trim(), Database = "sealpost_messages",
            }.ConnectionString;
        }
        if (connectionString is null) return null;
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 2, ApplicationName = "sealpost-bench" };
        if (builder.Host is not ("127.0.0.1" or "localhost" or "::1")) throw new BenchException("--pg must point at a PostgreSQL on this machine (127.0.0.1).");
        var probe = new PostgresProbe(NpgsqlDataSource.Create(builder.ConnectionString));
        try
        {
            await probe.SnapshotAsync(ct);
            return probe;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await probe.DisposeAsync();
            Console.Error.WriteLine($"note: PostgreSQL counters are not available ({e.Message}); the report leaves them out.");
            return null;
        }
    }

    public async Task<PgSnapshot> SnapshotAsync(CancellationToken ct)
    {
        await using var cmd = _messages.CreateCommand("""
            SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
                   (SELECT sum(xact_commit) FROM pg_stat_database),
                   (SELECT wal_sync FROM pg_stat_wal),
                   (SELECT wal_records FROM pg_stat_wal),
                   (SELECT wal_bytes FROM pg_stat_wal),
                   (SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 'messages')
            """);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new PgSnapshot(Clock.Now, reader.GetInt64(0), Convert.ToInt64(reader.GetValue(1)), reader.GetInt64(2), reader.GetInt64(3),
            Convert.ToInt64(reader.GetValue(4)), reader.IsDBNull(5) ? 0 : Convert.ToInt64(reader.GetValue(5)));
    }

    /// <summary>Messages waiting in the mailboxes of these users.</summary>
    public async Task<long> WaitingAsync(IReadOnlyList<string> recipients, CancellationToken ct)
    {
        await using var cmd = _messages.CreateCommand("SELECT count(*) FROM messages WHERE recipient = ANY ($1)");
        cmd.Parameters.Add(new() { Value = recipients.ToArray() });
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    public static void AddTo(Report.Section section, PgSnapshot a, PgSnapshot b, long messages)
    {
        var seconds = Clock.Seconds(b.Timestamp - a.Timestamp);
        var commits = b.MessagesCommits - a.MessagesCommits;
        section.Figure("pg_messages_commits_per_s", "PostgreSQL commits (messages db)", commits / seconds, "/s");
        section.Figure("pg_all_commits_per_s", "PostgreSQL commits (all dbs)", (b.AllCommits - a.AllCommits) / seconds, "/s");
        section.Figure("pg_wal_syncs_per_s", "PostgreSQL WAL flushes (fsync)", (b.WalSyncs - a.WalSyncs) / seconds, "/s");
        section.Figure("pg_wal_mib_per_s", "PostgreSQL WAL written", (b.WalBytes - a.WalBytes) / seconds / 1048576.0, "MiB/s", "0.0");
        if (commits > 0 && messages > 0) section.Figure("messages_per_commit", "messages per commit (messages db)", (double)messages / commits, "", "0.0");
        // Every read of a mailbox is one scan of the messages table: how many a message cost.
        if (messages > 0) section.Figure("mailbox_scans_per_message", "scans of the messages table per message", (double)(b.MailboxScans - a.MailboxScans) / messages, "", "0.00");
    }

    public async ValueTask DisposeAsync() => await _messages.DisposeAsync();
}

/// <summary>PostgreSQL's cumulative counters at one moment (backends report them up to a second or so late).</summary>
public sealed record PgSnapshot(long Timestamp, long MessagesCommits, long AllCommits, long WalSyncs, long WalRecords, long WalBytes, long MailboxScans);

/// <summary>A failure to set up a run, said in one sentence.</summary>
public sealed class BenchException(string message, Exception? inner = null) : Exception(message, inner);
