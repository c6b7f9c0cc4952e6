using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Sealpost.Messages.Mailboxes;
using Sealpost.ServiceDefaults;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests.Mailboxes;

/// <summary>The mailbox contract against a real PostgreSQL, one fresh database per test.</summary>
public sealed class PostgresMailboxStoreTests : MailboxStoreContract, IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    protected override async Task<IMailboxStore> CreateStoreAsync(int quota = 100, TimeSpan? lifetime = null)
    {
        var connectionString = TestEnvironment.NewDatabase("mailbox");
        await DatabaseMigrator.EnsureDatabaseAsync(connectionString, CancellationToken.None);
        var db = NpgsqlDataSource.Create(connectionString);
        await DatabaseMigrator.MigrateAsync(db, typeof(PostgresMailboxStore).Assembly, NullLogger.Instance, CancellationToken.None);
        var store = new PostgresMailboxStore(db, Options.Create(new MailboxOptions { Quota = quota, MessageLifetime = lifetime ?? TimeSpan.FromDays(30) }));
        _owned.Add(store);
        _owned.Add(db);
        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned) await owned.DisposeAsync();
    }
}
