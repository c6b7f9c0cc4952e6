using Npgsql;
using Sealpost.Messages.Mailboxes;
using Sealpost.ServiceDefaults;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests.Mailboxes;

/// <summary>The mailbox contract against a real PostgreSQL, one fresh database per test.</summary>
public sealed class PostgresMailboxStoreTests : MailboxStoreContract, IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    private protected override async Task<IMailboxStore> CreateStoreAsync(int quota = 100, TimeSpan? lifetime = null, int quotaPerSender = 100, int storedPerSenderPerDay = 1000) =>
        await StartAsync(TestEnvironment.NewDatabase("mailbox"), quota, lifetime, quotaPerSender, storedPerSenderPerDay);

    [Fact]
    public async Task Messages_stored_by_mailbox_version_1_are_still_delivered_after_the_upgrade()
    {
        var connectionString = TestEnvironment.NewDatabase("mailbox");
        await DatabaseMigrator.EnsureDatabaseAsync(connectionString, CancellationToken.None);
        await using var db = NpgsqlDataSource.Create(connectionString);
        var v1 = typeof(PostgresMailboxStore).Assembly.GetManifestResourceNames().Single(n => n.EndsWith("0001_mailboxes.sql", StringComparison.Ordinal));
        await using (var stream = typeof(PostgresMailboxStore).Assembly.GetManifestResourceStream(v1)!)
        using (var text = new StreamReader(stream))
        await using (var schema = db.CreateCommand(await text.ReadToEndAsync()))
            await schema.ExecuteNonQueryAsync();
        var id = MessageIds.Next(Clock);
        await using (var old = db.CreateCommand("""
            CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO schema_migrations (version, name) VALUES (1, '0001_mailboxes');
            INSERT INTO send_log VALUES ('alice', gen_random_uuid(), ':id', now());
            INSERT INTO messages VALUES (':id', 'bob', 'alice', '\x010203', now(), now() + interval '30 days');
            """.Replace(":id", id.ToString(), StringComparison.Ordinal)))
            await old.ExecuteNonQueryAsync();

        // Started as an instance starts: migrated, and every shard claimed by the one database.
        var store = await StartAsync(connectionString, 100, null, 100, 1000);

        var waiting = Assert.Single(await store.PendingAsync("bob", [], 10, CancellationToken.None));
        Assert.Equal((id, "alice", (Guid?)null), (waiting.Id, waiting.Sender, waiting.ClientId));
        Assert.Equal([1, 2, 3], waiting.Body);
        await store.DeleteAsync([("bob", id)], CancellationToken.None);
        Assert.Empty(await store.PendingAsync("bob", [], 10, CancellationToken.None));
    }

    private async Task<MailboxClusters> StartAsync(string connectionString, int quota, TimeSpan? lifetime, int quotaPerSender, int storedPerSenderPerDay)
    {
        var store = await MailboxStores.StartAsync(connectionString, new MailboxOptions
        {
            Quota = quota, MessageLifetime = lifetime ?? TimeSpan.FromDays(30), QuotaPerSender = quotaPerSender, StoredPerSenderPerDay = storedPerSenderPerDay,
        });
        _owned.Add(store);
        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned) await owned.DisposeAsync();
    }
}
