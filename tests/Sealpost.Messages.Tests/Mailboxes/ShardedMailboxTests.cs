using System.Diagnostics;
using Npgsql;
using Sealpost.Messages.Mailboxes;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests.Mailboxes;

/// <summary>
/// Mailboxes over two databases, as over two PostgreSQL clusters: the whole store contract, each mailbox on the database
/// of its shard, the shard function the same in C# and SQL, and a shard moved by scripts/move-shards with mail waiting.
/// </summary>
public sealed class ShardedMailboxTests : MailboxStoreContract, IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    private protected override async Task<IMailboxStore> CreateStoreAsync(int quota = 100, TimeSpan? lifetime = null, int quotaPerSender = 100, int storedPerSenderPerDay = 1000) =>
        (await StartTwoAsync(new MailboxOptions
        {
            Quota = quota, MessageLifetime = lifetime ?? TimeSpan.FromDays(30), QuotaPerSender = quotaPerSender, StoredPerSenderPerDay = storedPerSenderPerDay,
        })).Store;

    [Fact]
    public void Shards_are_parsed_from_lists_and_ranges_and_bad_lists_are_refused()
    {
        Assert.Equal([0, 1, 2, 5, 62, 63], MailboxShards.Parse("0-2, 5,62-63"));
        Assert.Empty(MailboxShards.Parse(""));
        foreach (var bad in new[] { "64", "3-1", "a", "-1", "1-", "0-64" }) Assert.Throws<FormatException>(() => MailboxShards.Parse(bad));
    }

    [Fact]
    public async Task The_shard_function_is_the_same_in_the_service_and_in_sql()
    {
        var (_, a, _) = await StartTwoAsync();
        string[] recipients = ["alice", "alice/2", "bob/17", "ünïcødé/3", "", .. Enumerable.Range(0, 500).Select(i => $"user{i}/{i % 7 + 1}")];
        await using var cmd = a.CreateCommand("SELECT mailbox_shard(r) FROM unnest($1::text[]) r");
        cmd.Parameters.Add(new() { Value = recipients });
        var inSql = new List<int>();
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync()) inSql.Add(reader.GetInt32(0));

        Assert.Equal(recipients.Select(MailboxShards.Of), inSql);
        Assert.Equal(64, recipients.Select(MailboxShards.Of).Distinct().Count());   // 505 names cover every shard
    }

    [Fact]
    public async Task Each_mailbox_lives_on_the_database_holding_its_shard()
    {
        var (store, a, b) = await StartTwoAsync();
        var low = Recipient(s => s < 32);
        var high = Recipient(s => s >= 32);

        var results = await store.StoreAsync([Message("alice", low), Message("alice", high)], CancellationToken.None);

        Assert.All(results, r => Assert.Equal(AcceptStatus.Stored, r.Status));
        Assert.Equal([low], await RecipientsAsync(a));
        Assert.Equal([high], await RecipientsAsync(b));
    }

    [Fact]
    public async Task A_shard_moved_with_mail_waiting_loses_and_duplicates_nothing_and_takes_new_mail_where_it_went()
    {
        var (store, a, b) = await StartTwoAsync();
        var bob = Recipient(s => s < 32);
        var shard = MailboxShards.Of(bob);
        var waiting = Enumerable.Range(0, 50).Select(i => Message("alice", bob, body: [(byte)i])).ToList();
        await store.StoreAsync(waiting, CancellationToken.None);

        await MoveAsync(a, b, shard.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // The store learns of the move from the first write or read that reaches the old database.
        var resend = await store.StoreAsync([waiting[0]], CancellationToken.None);   // the same write again (an old instance's)
        var after = Message("carol", bob);
        var stored = await store.StoreAsync([after], CancellationToken.None);
        var pending = await store.PendingAsync(bob, [], 100, CancellationToken.None);

        Assert.Equal(AcceptStatus.Duplicate, resend[0].Status);
        Assert.Equal(waiting[0].Id, resend[0].MessageId);
        Assert.Equal(AcceptStatus.Stored, stored[0].Status);
        Assert.Equal([.. waiting.Select(m => m.Id), after.Id], pending.Select(m => m.Id));
        Assert.Empty(await RecipientsAsync(a));
        Assert.Equal("b", store.Owners[shard]);
    }

    [Fact]
    public async Task While_a_shard_is_moving_its_sends_are_refused_for_a_resend_and_its_reads_fail()
    {
        var (store, a, _) = await StartTwoAsync();
        var bob = Recipient(s => s < 32);
        await using (var moving = a.CreateCommand("UPDATE mailbox_shards SET state = 'moving' WHERE shard = $1"))
        {
            moving.Parameters.Add(new() { Value = (short)MailboxShards.Of(bob) });
            await moving.ExecuteNonQueryAsync();
        }

        var refused = await store.StoreAsync([Message("alice", bob)], CancellationToken.None);

        Assert.Equal(AcceptStatus.Unavailable, refused[0].Status);
        await Assert.ThrowsAsync<ShardUnavailableException>(() => store.PendingAsync(bob, [], 10, CancellationToken.None));
        Assert.Empty(await RecipientsAsync(a));
    }

    [Fact]
    public async Task Two_clusters_claiming_one_shard_in_configuration_is_refused_at_start() =>
        await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => MailboxStores.StartAsync(new MailboxOptions(),
            ("a", TestEnvironment.NewDatabase("shard_a"), "0-40"), ("b", TestEnvironment.NewDatabase("shard_b"), "32-63")));

    private static string Recipient(Func<int, bool> inShard)
    {
        for (var i = 0; ; i++)
            if (inShard(MailboxShards.Of($"bob{i}/1"))) return $"bob{i}/1";
    }

    private static async Task<List<string>> RecipientsAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT DISTINCT recipient FROM messages ORDER BY 1");
        var found = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) found.Add(reader.GetString(0));
        return found;
    }

    // The operator's command, on these two databases.
    private static async Task MoveAsync(NpgsqlDataSource from, NpgsqlDataSource to, string shards)
    {
        var info = new ProcessStartInfo(Path.Combine(TestEnvironment.RepoRoot, "scripts", "move-shards"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        info.ArgumentList.Add(Libpq(from));
        info.ArgumentList.Add(Libpq(to));
        info.ArgumentList.Add(shards);
        info.Environment["PGPASSWORD"] = new NpgsqlConnectionStringBuilder(TestEnvironment.PostgresConnectionString).Password ?? "";
        using var process = Process.Start(info)!;
        var errors = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"scripts/move-shards exited {process.ExitCode}: {await errors}");
    }

    private static string Libpq(NpgsqlDataSource db)
    {
        var c = new NpgsqlConnectionStringBuilder(db.ConnectionString);
        return $"host={c.Host} port={c.Port} dbname={c.Database} user={c.Username}";
    }

    private async Task<(MailboxClusters Store, NpgsqlDataSource A, NpgsqlDataSource B)> StartTwoAsync(MailboxOptions? options = null)
    {
        var (a, b) = (TestEnvironment.NewDatabase("shard_a"), TestEnvironment.NewDatabase("shard_b"));
        var store = await MailboxStores.StartAsync(options ?? new MailboxOptions(), ("a", a, "0-31"), ("b", b, "32-63"));
        var (da, db) = (NpgsqlDataSource.Create(a), NpgsqlDataSource.Create(b));
        _owned.AddRange([store, da, db]);
        return (store, da, db);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned) await owned.DisposeAsync();
    }
}
