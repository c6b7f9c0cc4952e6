using System.Collections.Concurrent;
using Sealpost.Testing;
using Xunit.Abstractions;

namespace Sealpost.Cluster.Tests;

/// <summary>
/// Paced traffic between many pairs of peers through the cluster's address, every recipient checking order and
/// completeness, every sender resending what was not answered (the SDK does). A test starts one, breaks something,
/// mends it, and asks it what was lost.
/// </summary>
public sealed class Load : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, byte[]> _directory = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Traffic _traffic = new();
    private readonly ITestOutputHelper _output;
    private readonly ClusterHosts _cluster;
    private List<Peer> _peers = [];
    private Task _running = Task.CompletedTask;

    private Load(ClusterHosts cluster, ITestOutputHelper output)
    {
        _cluster = cluster;
        _output = output;
    }

    public Traffic Traffic => _traffic;

    public IReadOnlyList<Peer> Peers => _peers;

    /// <summary><paramref name="pairs"/> pairs, each peer sending every <paramref name="interval"/>; returns once all are connected and sending.</summary>
    public static async Task<Load> StartAsync(ClusterHosts cluster, ITestOutputHelper output, int pairs = 20, TimeSpan? interval = null)
    {
        var load = new Load(cluster, output);
        load._peers = await Peer.CreateAsync(cluster.Url, cluster.CertificateFile, pairs * 2, load._directory);
        foreach (var peer in load._peers) peer.Start();
        load._running = load._traffic.RunPacedAsync(load._peers, interval ?? TimeSpan.FromMilliseconds(250), load._stop.Token);
        await load.SteadyAsync();
        return load;
    }

    /// <summary>Registers peers that stay offline (not connected) until <see cref="Peer.Start"/>: mail for them waits in their mailboxes.</summary>
    public Task<List<Peer>> OfflinePeersAsync(ClusterHosts cluster, int count) => Peer.CreateAsync(cluster.Url, cluster.CertificateFile, count, _directory);

    /// <summary>Waits until every sender had a send accepted within the last two seconds (at most <paramref name="within"/>).</summary>
    public async Task SteadyAsync(TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(90));
        var accepted = _traffic.Accepted;
        while (DateTime.UtcNow < deadline && (_traffic.Accepted < accepted + _peers.Count * 2 || _traffic.LongestStallSince(DateTime.UtcNow.AddSeconds(-2)) > TimeSpan.FromSeconds(2)))
            await Task.Delay(200);
    }

    /// <summary>Senders with nothing accepted for 10 s, and what their connection says: for a failure message.</summary>
    public string DescribeStalled()
    {
        var stalled = _traffic.StalledSenders(TimeSpan.FromSeconds(10));
        return stalled.Count == 0 ? "no sender stalled" : $"{stalled.Count} senders stalled: " +
            string.Join("; ", _peers.Where(p => stalled.Contains(p.Username)).Take(5).Select(p => $"{p.Username} {p.Status}, errors [{string.Join(',', p.ErrorCodes.Distinct())}]"));
    }

    /// <summary>Stops sending, waits for every accepted message to arrive, and asserts nothing was lost, reordered or misdelivered.</summary>
    public async Task StopAndCheckAsync(string scenario)
    {
        await _stop.CancelAsync();
        try
        {
            await _running.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{scenario}: sends still unanswered a minute after the traffic stopped; {DescribeStalled()}");
        }
        var (delivered, missing, wrong) = await _traffic.SettleAsync(_peers, TimeSpan.FromSeconds(60));
        var outOfOrder = _peers.SelectMany(p => p.OutOfOrder).ToList();
        var report = $"{scenario}: sent {_traffic.Sent}, accepted {_traffic.Accepted}, delivered {delivered}, missing {missing}, wrong {wrong}, " +
            $"out of order {outOfOrder.Count}, duplicates dropped {_peers.Sum(p => p.Duplicates)}, sends refused and resent {_peers.Sum(p => p.RetriedSends)}, " +
            $"reconnects {_peers.Sum(p => p.Reconnects)}";
        _output.WriteLine(report);
        Console.WriteLine(report);
        if (missing > 0) _output.WriteLine(await DescribeMissingAsync());
        Assert.True(missing == 0 && wrong == 0 && outOfOrder.Count == 0,
            $"{report}; e.g. out of order {string.Join("; ", outOfOrder.Take(5))}; {await _traffic.DescribeMissingAsync(null)}");
        Assert.DoesNotContain("envelope_rejected", _peers.SelectMany(p => p.ErrorCodes));
    }

    // Each missing message (the first five): its rows in the mailbox clusters, the recipient's state, and what the
    // instances logged about the recipient.
    private async Task<string> DescribeMissingAsync()
    {
        var lines = new List<string>();
        foreach (var (to, from, clientId) in _traffic.Missing.Take(5))
            lines.Add($"{from} → {to.Username} ({clientId}): {await _cluster.MailboxRowsAsync(to.Username, from, clientId)}; recipient {to.Status}\n{_cluster.LogLines(to.Username)}");
        return string.Join('\n', lines);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await _stop.CancelAsync();
        foreach (var peer in _peers) await peer.DisposeAsync();
        _stop.Dispose();
    }
}
