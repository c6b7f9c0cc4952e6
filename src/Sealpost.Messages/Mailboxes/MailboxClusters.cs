using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using Sealpost.ServiceDefaults;

namespace Sealpost.Messages.Mailboxes;

/// <summary>One PostgreSQL cluster holding mailboxes (section <c>Mailboxes:Clusters:N</c>).</summary>
internal sealed class MailboxClusterOptions
{
    public string Name { get; set; } = "";

    /// <summary>
    /// Npgsql's connection string; with several hosts (a Patroni cluster's members) add
    /// <c>Target Session Attributes=primary</c> so writes go to whichever member leads.
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>The virtual shards this cluster claims on its first start ("0-31"); later only a shard move changes them.</summary>
    public string Shards { get; set; } = "";
}

/// <summary>
/// The mailbox store over every mailbox cluster: each call goes to the cluster that holds the recipient's shard
/// (<see cref="MailboxShards"/>). Which cluster holds which shard is read from the clusters themselves (their
/// <c>mailbox_shards</c> tables) at start, every few seconds, and at once when a cluster answers that a shard is not
/// (or no longer) its own; the call is then tried once more. A shard being moved holds no writes anywhere: its sends
/// are refused as <see cref="AcceptStatus.Unavailable"/> (the sender sends again) and its reads fail until the move ends.
/// Without <c>Mailboxes:Clusters</c> there is one cluster, the service's database, holding every shard.
/// </summary>
internal sealed partial class MailboxClusters : IMailboxStore, IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(5);
    private readonly Cluster[] _clusters;
    private readonly bool _createIfMissing;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _loading = new(1, 1);
    private Cluster?[] _owners = new Cluster?[MailboxShards.Count];
    private long _loadStartedAt;
    private Task? _refreshing;

    public MailboxClusters(IOptions<MailboxOptions> mailboxes, IOptions<DatabaseOptions> database, ILogger<MailboxClusters> logger)
    {
        _logger = logger;
        _createIfMissing = database.Value.CreateIfMissing;
        var configured = mailboxes.Value.Clusters is { Count: > 0 } list
            ? list
            : [new MailboxClusterOptions { Name = "main", ConnectionString = database.Value.ConnectionString, Shards = $"0-{MailboxShards.Count - 1}" }];
        _clusters = [.. configured.Select(c => new Cluster(c.Name, c.ConnectionString, MailboxShards.Parse(c.Shards), mailboxes))];
        var claimedTwice = _clusters.SelectMany(c => c.Claims).GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (claimedTwice.Count > 0) throw new OptionsValidationException(MailboxOptions.Section, typeof(MailboxOptions),
            [$"Mailboxes:Clusters gives shards {string.Join(',', claimedTwice)} to more than one cluster"]);
        if (_clusters.Any(c => string.IsNullOrWhiteSpace(c.Name) || string.IsNullOrWhiteSpace(c.ConnectionString)))
            throw new OptionsValidationException(MailboxOptions.Section, typeof(MailboxOptions), ["every mailbox cluster needs a Name and a ConnectionString"]);
    }

    /// <summary>Which cluster holds each shard now (null: none answers for it), for the metrics and the tests.</summary>
    public IReadOnlyList<string?> Owners => [.. _owners.Select(c => c?.Name)];

    // Every cluster's schema up to date and its first shards claimed, then the map; a cluster that is away (its primary
    // failing over) is waited for: the instance is not ready until it has seen every cluster once.
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var cluster in _clusters)
        {
            while (true)
            {
                try
                {
                    if (_createIfMissing) await DatabaseMigrator.EnsureDatabaseAsync(cluster.ConnectionString, cancellationToken);
                    await DatabaseMigrator.MigrateAsync(cluster.Db, typeof(MailboxClusters).Assembly, _logger, cancellationToken);
                    await cluster.Store.ClaimShardsAsync(cluster.Claims, cancellationToken);
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException && _clusters.Length > 1 && ServiceDefaultsExtensions.IsUnavailable(e))
                {
                    LogClusterAway(_logger, cluster.Name, e.Message);
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                }
            }
        }
        await LoadAsync(cancellationToken);
        _refreshing = RefreshAsync(_stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_stopping.IsCancellationRequested) await _stopping.CancelAsync();
        if (_refreshing is { } refreshing) await refreshing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task RefreshAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(RefreshEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(ct)) await LoadAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// Reads every cluster's shards. A shard owned by exactly one cluster goes there; one being moved (owned by none,
    /// 'moving' somewhere) goes nowhere; one whose clusters did not answer keeps its last owner.
    /// </summary>
    private async Task LoadAsync(CancellationToken ct)
    {
        var asked = Stopwatch.GetTimestamp();
        await _loading.WaitAsync(ct);
        try
        {
            // Another caller's load that began after this one asked has read what this one would: skip it. (One that
            // began before may have read a shard mid-move, whatever time it ended.)
            if (_loadStartedAt > asked) return;
            var started = Stopwatch.GetTimestamp();
            var states = await Task.WhenAll(_clusters.Select(async c =>
            {
                try
                {
                    return (Cluster: c, States: await c.Store.ShardStatesAsync(ct));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogClusterAway(_logger, c.Name, e.Message);
                    return (Cluster: c, States: (IReadOnlyDictionary<int, string>?)null);
                }
            }));
            var owners = (Cluster?[])_owners.Clone();
            for (var shard = 0; shard < MailboxShards.Count; shard++)
            {
                var owning = states.Where(s => s.States?.GetValueOrDefault(shard) == "owned").Select(s => s.Cluster).ToList();
                if (owning.Count == 1) owners[shard] = owning[0];
                else if (owning.Count > 1) LogOwnedTwice(_logger, shard, string.Join(", ", owning.Select(c => c.Name)));
                else if (states.Any(s => s.States?.GetValueOrDefault(shard) == "moving")) owners[shard] = null;
                else if (states.All(s => s.States is not null)) owners[shard] = null;   // nobody holds it: refused until someone does
            }
            if (!owners.SequenceEqual(_owners)) LogMapChanged(_logger, string.Join(", ", _clusters.Select(c => $"{c.Name}: {Describe(owners, c)}")));
            _owners = owners;
            _loadStartedAt = started;
        }
        finally
        {
            _loading.Release();
        }
    }

    private static string Describe(Cluster?[] owners, Cluster cluster) =>
        string.Join(',', Enumerable.Range(0, owners.Length).Where(s => owners[s] == cluster));

    private Cluster Owner(int shard) => _owners[shard] ?? throw new ShardUnavailableException(shard);

    public async Task<AcceptResult[]> StoreAsync(IReadOnlyList<NewMessage> batch, CancellationToken ct)
    {
        var results = new AcceptResult[batch.Count];
        var todo = Enumerable.Range(0, batch.Count).ToList();
        // Twice at most: the second time only what a cluster answered was not its own, after the map is read again.
        for (var attempt = 0; attempt < 2 && todo.Count > 0; attempt++)
        {
            if (attempt > 0) await LoadAsync(ct);
            var groups = todo.GroupBy(k => _owners[MailboxShards.Of(batch[k].Recipient)]).ToList();
            await Task.WhenAll(groups.Select(async group =>
            {
                var ks = group.ToList();
                if (group.Key is not { } cluster)
                {
                    // No owner in the map: mid-move, or the map was read while a move ran; asked again once.
                    foreach (var k in ks) results[k] = new(AcceptStatus.ShardElsewhere, Guid.Empty, default);
                    return;
                }
                var written = await cluster.Store.StoreAsync([.. ks.Select(k => batch[k])], ct);
                for (var i = 0; i < ks.Count; i++) results[ks[i]] = written[i];
            }));
            todo = [.. todo.Where(k => results[k].Status == AcceptStatus.ShardElsewhere)];
        }
        foreach (var k in todo) results[k] = new(AcceptStatus.Unavailable, Guid.Empty, default);
        return results;
    }

    // An ack for a shard that moved meanwhile deletes nothing: the message comes again, and its recipient knows it.
    public Task DeleteAsync(IReadOnlyList<(string Recipient, Guid Id)> acked, CancellationToken ct) =>
        Task.WhenAll(acked.GroupBy(a => _owners[MailboxShards.Of(a.Recipient)]).Where(g => g.Key is not null)
            .Select(g => g.Key!.Store.DeleteAsync([.. g], ct)));

    public Task DeleteMailboxAsync(string recipient, CancellationToken ct) =>
        Task.WhenAll(_clusters.Select(c => c.Store.DeleteMailboxAsync(recipient, ct)));

    public Task<IReadOnlyList<StoredMessage>> PendingAsync(string recipient, IReadOnlyCollection<Guid> exclude, int limit, CancellationToken ct) =>
        ReadAsync(recipient, store => store.PendingAsync(recipient, exclude, limit, ct), ct);

    public Task<IReadOnlyCollection<Guid>> StillPendingAsync(string recipient, IReadOnlyCollection<Guid> ids, CancellationToken ct) =>
        ReadAsync(recipient, store => store.StillPendingAsync(recipient, ids, ct), ct);

    private async Task<T> ReadAsync<T>(string recipient, Func<PostgresMailboxStore, Task<T>> read, CancellationToken ct)
    {
        var shard = MailboxShards.Of(recipient);
        try
        {
            return await read(Owner(shard).Store);
        }
        catch (Exception e) when (e is ShardElsewhereException or ShardUnavailableException)
        {
            // Moved, or no owner in the map (mid-move, or a map read while a move ran): the map is read again, once.
            await LoadAsync(ct);
        }
        try
        {
            return await read(Owner(shard).Store);
        }
        catch (ShardElsewhereException)
        {
            throw new ShardUnavailableException(shard);
        }
    }

    public async Task<int> SweepAsync(CancellationToken ct) => (await Task.WhenAll(_clusters.Select(c => c.Store.SweepAsync(ct)))).Sum();

    public async Task<MailboxDepth> DepthAsync(CancellationToken ct)
    {
        var depths = await Task.WhenAll(_clusters.Select(c => c.Store.DepthAsync(ct)));
        return depths.Length == 1 ? depths[0] : new MailboxDepth(depths.Sum(d => d.Messages),
            [.. Enumerable.Range(0, MailboxDepth.Bounds.Length).Select(i => depths.Sum(d => d.AtLeast[i]))],
            depths.Max(d => d.Deepest), depths.Max(d => d.OldestAgeSeconds));
    }

    // Ready while any cluster answers: one cluster failing over must not take every instance out of HAProxy.
    public async Task PingAsync(CancellationToken ct)
    {
        var pings = _clusters.Select(c => c.Store.PingAsync(ct)).ToList();
        while (pings.Count > 0)
        {
            var done = await Task.WhenAny(pings);
            if (done.IsCompletedSuccessfully) return;
            pings.Remove(done);
            if (pings.Count == 0) await done;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _stopping.Dispose();
        foreach (var cluster in _clusters) await cluster.Db.DisposeAsync();
    }

    private sealed class Cluster(string name, string connectionString, int[] claims, IOptions<MailboxOptions> options)
    {
        public string Name { get; } = name;

        public string ConnectionString { get; } = connectionString;

        public int[] Claims { get; } = claims;

        // The mailbox table is a queue: empty, then full, so every execution is planned afresh.
        public NpgsqlDataSource Db { get; } = ServiceDefaultsExtensions.CreateDataSource(connectionString, planEachExecution: true);

        public PostgresMailboxStore Store => field ??= new PostgresMailboxStore(Db, options);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mailbox cluster {Cluster} is not answering: {Reason}")]
    private static partial void LogClusterAway(ILogger logger, string cluster, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Mailbox shard {Shard} is owned by more than one cluster ({Clusters}); it keeps its last owner")]
    private static partial void LogOwnedTwice(ILogger logger, int shard, string clusters);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mailbox shards now: {Map}")]
    private static partial void LogMapChanged(ILogger logger, string map);
}
