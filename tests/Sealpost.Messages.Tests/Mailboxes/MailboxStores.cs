using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Mailboxes;
using Sealpost.ServiceDefaults;

namespace Sealpost.Messages.Tests.Mailboxes;

/// <summary>The service's mailbox store (<see cref="MailboxClusters"/>) over fresh databases, started as the host starts it.</summary>
internal static class MailboxStores
{
    /// <summary>One database holding every shard, as one machine runs.</summary>
    public static Task<MailboxClusters> StartAsync(string connectionString, MailboxOptions? options = null) =>
        StartAsync(options ?? new MailboxOptions(), ("main", connectionString, "0-63"));

    public static async Task<MailboxClusters> StartAsync(MailboxOptions options, params (string Name, string ConnectionString, string Shards)[] clusters)
    {
        options.Clusters = [.. clusters.Select(c => new MailboxClusterOptions { Name = c.Name, ConnectionString = c.ConnectionString, Shards = c.Shards })];
        var store = new MailboxClusters(Options.Create(options), Options.Create(new DatabaseOptions { CreateIfMissing = true }), NullLogger<MailboxClusters>.Instance);
        await store.StartAsync(CancellationToken.None);
        return store;
    }
}
