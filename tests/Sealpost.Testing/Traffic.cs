using System.Collections.Concurrent;

namespace Sealpost.Testing;

/// <summary>Pairs of peers sending to each other, and the count of what was sent, accepted and delivered.</summary>
public sealed class Traffic
{
    private readonly ConcurrentDictionary<string, (Peer To, string From, string Plaintext)> _accepted = new();
    private readonly ConcurrentDictionary<string, DateTime> _acceptedAt = new();
    private readonly ConcurrentDictionary<string, List<DateTime>> _acceptsBySender = new();
    private int _sent;

    public int Sent => _sent;

    public int Accepted => _accepted.Count;

    /// <summary>Each peer sends <paramref name="perPeer"/> messages to its partner (0↔1, 2↔3, …), a few at a time.</summary>
    public Task RunAsync(IReadOnlyList<Peer> peers, int perPeer, int concurrency = 5)
    {
        // One deadline for the whole run, so a broken system fails the test in minutes, not in hours.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        return Task.WhenAll(peers.Select((peer, i) => SendManyAsync(peer, peers[i ^ 1], perPeer, concurrency, deadline)));
    }

    private async Task SendManyAsync(Peer from, Peer to, int count, int concurrency, DateTime deadline)
    {
        using var gate = new SemaphoreSlim(concurrency);
        var sends = Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var plaintext = $"{i} from {from.Username} to {to.Username}";
                Interlocked.Increment(ref _sent);
                string clientId;
                try
                {
                    clientId = await from.SendAsync(to.Username, plaintext).WaitAsync(deadline - DateTime.UtcNow);
                }
                catch (TimeoutException)
                {
                    // Say which send waited and what its sender saw, so a failure tells a stuck send from a slow system.
                    throw new TimeoutException($"send {i} of {count} from {from.Username} to {to.Username} had no accepted by the run's deadline; " +
                        $"{_accepted.Count} of {_sent} accepted so far; the sender: {from.Status}, errors [{string.Join(',', from.ErrorCodes)}]");
                }
                _acceptedAt[Peer.Key(from.Username, clientId)] = DateTime.UtcNow;
                _accepted[Peer.Key(from.Username, clientId)] = (to, from.Username, plaintext);
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(sends);
    }

    /// <summary>
    /// Paced traffic, as a fleet of phones makes it: each peer sends to its partner (0↔1, 2↔3, …) one message at a time,
    /// the next only once the last was accepted and <paramref name="interval"/> has passed, until <paramref name="stop"/>.
    /// One send in flight per sender makes send order unambiguous: each recipient checks it (<see cref="Peer.OutOfOrder"/>).
    /// </summary>
    public Task RunPacedAsync(IReadOnlyList<Peer> peers, TimeSpan interval, CancellationToken stop) =>
        Task.WhenAll(peers.Select((peer, i) => SendPacedAsync(peer, peers[i ^ 1], interval, stop)));

    private async Task SendPacedAsync(Peer from, Peer to, TimeSpan interval, CancellationToken stop)
    {
        var accepts = _acceptsBySender.GetOrAdd(from.Username, _ => []);
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var next = Task.Delay(interval, CancellationToken.None);
            var plaintext = $"{i} from {from.Username} to {to.Username}";
            Interlocked.Increment(ref _sent);
            var clientId = await from.SendAsync(to.Username, plaintext);   // not cancelled: a send once started is seen through
            var now = DateTime.UtcNow;
            var key = Peer.Key(from.Username, clientId);
            _acceptedAt[key] = now;
            _accepted[key] = (to, from.Username, plaintext);
            lock (accepts) accepts.Add(now);
            await next;
        }
    }

    /// <summary>
    /// <paramref name="from"/> sends <paramref name="perRecipient"/> numbered messages to each of <paramref name="recipients"/>
    /// (offline ones, say), one at a time, in order.
    /// </summary>
    public async Task SendEachAsync(Peer from, IReadOnlyList<Peer> recipients, int perRecipient)
    {
        for (var i = 0; i < perRecipient; i++)
            foreach (var to in recipients)
            {
                var plaintext = $"{i} from {from.Username} to {to.Username}";
                Interlocked.Increment(ref _sent);
                var clientId = await from.SendAsync(to.Username, plaintext);
                _acceptedAt[Peer.Key(from.Username, clientId)] = DateTime.UtcNow;
                _accepted[Peer.Key(from.Username, clientId)] = (to, from.Username, plaintext);
            }
    }

    /// <summary>The longest any sender waited between two accepted sends, counting only waits that reach past <paramref name="since"/>.</summary>
    public TimeSpan LongestStallSince(DateTime since)
    {
        var longest = TimeSpan.Zero;
        var now = DateTime.UtcNow;
        foreach (var accepts in _acceptsBySender.Values)
        {
            List<DateTime> times;
            lock (accepts) times = [.. accepts, now];
            for (var k = 1; k < times.Count; k++)
                if (times[k] > since && times[k] - times[k - 1] > longest) longest = times[k] - times[k - 1];
        }
        return longest;
    }

    /// <summary>The senders of paced traffic whose last accepted send is older than <paramref name="threshold"/>.</summary>
    public IReadOnlyList<string> StalledSenders(TimeSpan threshold)
    {
        var before = DateTime.UtcNow - threshold;
        return [.. _acceptsBySender.Where(s => { lock (s.Value) return s.Value.Count == 0 || s.Value[^1] < before; }).Select(s => s.Key)];
    }

    /// <summary>The longest time from accepted to first arrival of any message accepted after <paramref name="since"/> (still missing: until now).</summary>
    public TimeSpan LongestDeliverySince(DateTime since)
    {
        var now = DateTime.UtcNow;
        return _accepted.Where(a => _acceptedAt[a.Key] > since)
            .Select(a => (a.Value.To.Inbox.TryGetValue(a.Key, out var r) ? r.ArrivedAt : now) - _acceptedAt[a.Key])
            .DefaultIfEmpty(TimeSpan.Zero).Max();
    }

    /// <summary>
    /// Waits until every accepted message sits in its recipient's inbox, then says what is missing or wrong. Messages
    /// are keyed by sender and client id, as a client recognises them.
    /// </summary>
    public async Task<(int Delivered, int Missing, int Wrong)> SettleAsync(IReadOnlyList<Peer> peers, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline && _accepted.Any(a => !a.Value.To.Inbox.ContainsKey(a.Key))) await Task.Delay(200);
        var delivered = _accepted.Count(a => a.Value.To.Inbox.ContainsKey(a.Key));
        var wrong = _accepted.Count(a => a.Value.To.Inbox.TryGetValue(a.Key, out var r) && (r.From != a.Value.From || r.Plaintext != a.Value.Plaintext));
        // Anything in an inbox that was never accepted for that peer is a message delivered to the wrong person.
        wrong += peers.Sum(p => p.Inbox.Keys.Count(id => !_accepted.TryGetValue(id, out var a) || a.To != p));
        return (delivered, _accepted.Count - delivered, wrong);
    }

    /// <summary>Every accepted message not (yet) in its recipient's inbox: recipient, sender and client id.</summary>
    public IReadOnlyList<(Peer To, string From, string ClientId)> Missing =>
        [.. _accepted.Where(a => !a.Value.To.Inbox.ContainsKey(a.Key)).Select(a => (a.Value.To, a.Value.From, a.Key[(a.Value.From.Length + 1)..]))];

    /// <summary>Who is missing what, for a failure message (with its mailbox on a <paramref name="stack"/>, and how many instances Redis says listen for the recipient).</summary>
    public async Task<string> DescribeMissingAsync(SealpostStack? stack, int? redisPort = null)
    {
        var lines = new List<string>();
        foreach (var group in _accepted.Where(a => !a.Value.To.Inbox.ContainsKey(a.Key)).GroupBy(a => a.Value.To))
        {
            var from = string.Join(",", group.Select(g => g.Value.From).Distinct());
            var listening = redisPort is { } port ? await RedisCliAsync(port, "PUBSUB", "SHARDNUMSUB", "sealpost:u:" + group.Key.Username) : "?";
            lines.Add($"{group.Key.Username} misses {group.Count()} from {from}: {(stack is null ? "?" : await stack.MailboxCountAsync(group.Key.Username))} in its mailbox, " +
                $"Redis: {listening.Replace('\n', ' ')}, " +
                $"{group.Key.Inbox.Count} received, {group.Key.Status}, errors {string.Join(",", group.Key.ErrorCodes.Distinct())}");
        }
        return string.Join("; ", lines);
    }

    /// <summary>What the messages instances logged about the recipients still missing messages.</summary>
    public string DescribeLogs(SealpostStack stack) => string.Join('\n',
        _accepted.Where(a => !a.Value.To.Inbox.ContainsKey(a.Key)).Select(a => a.Value.To.Username).Distinct()
            .SelectMany(user => stack.Messages.Select((m, i) => $"messages{i + 1} about {user}:\n{m.LinesMentioning(user)}")));

    private static async Task<string> RedisCliAsync(int port, params string[] args)
    {
        var info = new global::System.Diagnostics.ProcessStartInfo("redis-cli") { RedirectStandardOutput = true };
        info.ArgumentList.Add("-p");
        info.ArgumentList.Add(port.ToString(global::System.Globalization.CultureInfo.InvariantCulture));
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = global::System.Diagnostics.Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output.Trim();
    }
}
