using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Sealpost.Bench.Infrastructure;
using Sealpost.Crypto;
using Sealpost.Testing;

namespace Sealpost.Bench.Scenarios;

public sealed record DrainOptions(int FirstUser, int Recipients, int Messages, int Senders, int InFlight, int Size, TimeSpan Timeout);

/// <summary>
/// M messages are queued for K users while they are offline; then all K connect at once and ack everything. Measures
/// the time until every queued message was delivered (and, from PostgreSQL, until the mailboxes are empty), and checks
/// each recipient got exactly the messages accepted for it.
/// </summary>
public sealed class Drain(Context context, DrainOptions options)
{
    private readonly ConcurrentDictionary<string, long> _errorCodes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _disconnects = new(StringComparer.Ordinal);
    private volatile bool _closing;

    public async Task<Report> RunAsync(CancellationToken ct)
    {
        var report = context.NewReport("drain");
        int k = options.Recipients, s = options.Senders;
        if (options.Messages / k > 10_000) throw new BenchException("at most 10,000 messages per recipient (the default mailbox quota): raise --recipients.");
        var first = options.FirstUser;
        await context.Pool.EnsureAsync(first + k + s, context.Api, 4, ct);
        await context.Pool.RefreshAsync(first, k + s, context.Api, 16, ct);
        var recipients = Enumerable.Range(0, k).Select(i => new Recipient(context.Pool.Users[first + i], context.Options.UserFramesPerSecond)).ToArray();
        var names = recipients.Select(r => r.User.Username).ToArray();
        var endpoints = Target.SocketEndpoints(context.Options.Url, context.Options.Direct);
        using var invoker = ProtocolClient.CreateInvoker();
        var lean = ProtocolClientOptions.Lean(invoker);

        // 0. Empty the recipients' mailboxes of anything an earlier run left, so the count below is exact.
        var stale = await PurgeAsync(recipients, endpoints, lean, ct);
        if (context.Postgres is not null && await context.Postgres.WaitingAsync(names, ct) is var left and > 0)
            throw new BenchException($"{left:N0} messages still wait for the drain recipients after purging them; try again.");

        // 1. Queue M messages while the recipients are offline.
        var fill = await FillAsync(recipients, endpoints, lean, ct);
        var queued = recipients.Sum(r => r.Expected.Count);
        Console.Error.WriteLine($"queued {queued:N0} messages for {k:N0} offline users in {fill.Seconds:0.0} s ({queued / fill.Seconds:N0} accepted/s).");
        if (context.Postgres is not null)
        {
            var waiting = await context.Postgres.WaitingAsync(names, ct);
            if (waiting != queued) report.Fail($"PostgreSQL holds {waiting:N0} messages for the recipients, but {queued:N0} were accepted.");
        }

        // 2. All recipients connect at once; the clock runs until each has every message it was sent.
        Console.Error.WriteLine($"draining: {k:N0} users connect…");
        var cpuBefore = context.Probe.Snapshot();
        var pgBefore = context.Postgres is null ? null : await context.Postgres.SnapshotAsync(ct);
        var start = Clock.Now;
        foreach (var r in recipients.Where(r => r.Expected.Count == 0)) r.DoneAt = start;
        long received = 0, last = 0;
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
        double? emptiedAfter = null;
        using (new Progress(() =>
               {
                   var now = Interlocked.Read(ref received);
                   var line = $"delivered {now - last,8:N0}/s  total {now:N0}/{queued:N0}  users done {recipients.Count(r => r.DoneAt != 0):N0}/{k:N0}";
                   last = now;
                   return line;
               }))
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, k), new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = ct }, async (i, token) =>
            {
                var r = recipients[i];
                r.Socket = await ProtocolClient.ConnectAsync(endpoints[i % endpoints.Count], r.User.AccessToken!, lean, token);
                r.Connected = Clock.Now;
                r.Receiving = ReceiveAsync(r, () => Interlocked.Increment(ref received), run.Token);
            });
            var deadline = start + Clock.Ticks(options.Timeout);
            while (recipients.Any(r => r.DoneAt == 0) && Clock.Now < deadline && !recipients.Any(r => r.Receiving!.IsCompleted)) await Task.Delay(20, ct);
        }
        var deliveredAt = recipients.Max(r => r.DoneAt == 0 ? Clock.Now : r.DoneAt);
        var cpu = SystemProbe.Between(cpuBefore, context.Probe.Snapshot());
        var pgAfter = context.Postgres is null ? null : await context.Postgres.SnapshotAsync(ct);
        if (context.Postgres is not null)
        {
            // The last acks are deletes batched on the server: the mailboxes are empty once those commit.
            while (Clock.SecondsSince(start) < options.Timeout.TotalSeconds + 10)
            {
                if (await context.Postgres.WaitingAsync(names, ct) == 0)
                {
                    emptiedAfter = Clock.SecondsSince(start);
                    break;
                }
                await Task.Delay(20, ct);
            }
        }
        _closing = true;
        await Task.WhenAll(recipients.Select(r => r.Socket!.CloseOutputAsync()));
        await run.CancelAsync();
        await Task.WhenAll(recipients.Select(r => r.Receiving!));
        foreach (var r in recipients) await r.Socket!.DisposeAsync();

        var seconds = Clock.Seconds(deliveredAt - start);
        var got = recipients.Sum(r => r.Seen.Count(id => r.Expected.Contains(id)));
        var missing = queued - got;
        var perUser = new Latencies();
        foreach (var r in recipients.Where(r => r.DoneAt != 0)) perUser.Add(r.DoneAt - start);
        var paced = recipients.Sum(r => Clock.Seconds(r.Pacer.WaitedTicks)) / (k * Math.Max(seconds, 0.001));

        report.Add("setup")
            .Figure("recipients", "offline recipients (K)", k, "")
            .Figure("messages", "messages queued (M)", queued, $"({queued / Math.Max(1, k):N0} per recipient)")
            .Figure("envelope_bytes", "envelope", options.Size + Envelope.Overhead, $"B ({options.Size} B plaintext)")
            .Text("endpoints", "socket endpoints", string.Join(", ", endpoints))
            .Figure("user_frames_per_s", "client frame budget per user", context.Options.UserFramesPerSecond, "frames/s (acks)");
        report.Add("fill (sends to offline users)")
            .Figure("senders", "senders", s, $"({options.InFlight} in flight each)")
            .Figure("accepted_per_s", "accepted", queued / fill.Seconds, "msgs/s")
            .Latency("acceptance", "send → accepted", fill.Acceptance)
            .Counts("errors", "error frames", _errorCodes);
        report.Add("drain")
            .Figure("drain_s", "all delivered after", seconds, "s (from the first connect)", "0.00")
            .Figure("drain_msgs_per_s", "drain rate", got / Math.Max(seconds, 0.001), "msgs/s")
            .Figure("emptied_s", "mailboxes empty in PostgreSQL after", emptiedAfter ?? double.NaN, "s", "0.00")
            .Latency("per_user_done", "each user's last message after", Latencies.Summarize([perUser]));
        report.Add("accounting")
            .Figure("queued", "accepted while offline", queued, "")
            .Figure("delivered", "delivered (distinct, expected)", got, "")
            .Figure("missing", "accepted, never delivered", missing, "")
            .Figure("duplicates", "duplicate deliveries", recipients.Sum(r => r.Duplicates), "")
            .Figure("unexpected", "deliveries not queued by this run", recipients.Sum(r => r.Unexpected), "")
            .Figure("stale", "left over from earlier runs (purged first)", stale, "")
            .Counts("disconnects", "sockets closed by the server", _disconnects);
        var bounds = report.Add("what bounds it");
        cpu.AddTo(bounds, got / Math.Max(seconds, 0.001), "msg");
        if (pgAfter is not null) PostgresProbe.AddTo(bounds, pgBefore!, pgAfter, got);
        bounds.Figure("client_budget_wait_pct", "recipients waiting on the frame budget", paced * 100, "% of the time", "0.0");
        Context.CheckQuiet(report, cpu);

        if (missing > 0) report.Fail($"{missing:N0} queued messages were not delivered within {options.Timeout.TotalSeconds:0} s.");
        if (recipients.Sum(r => r.Unexpected) > 0) report.Fail("messages arrived that this run did not queue.");
        if (!_disconnects.IsEmpty) report.Fail($"the server closed {_disconnects.Values.Sum():N0} sockets ({string.Join(", ", _disconnects.Keys)}).");
        if (emptiedAfter is null && context.Postgres is not null) report.Fail("the mailboxes were not empty in PostgreSQL after the drain (acks lost?).");
        if (recipients.Sum(r => r.Duplicates) > 0) report.Warn("some messages were delivered twice on the same socket.");
        if (paced > 0.05) report.Warn($"recipients spent {paced:P0} of the drain waiting on the per-user frame budget: the figure is bounded by --recipients, not by the system.");
        return report;
    }

    private async Task<long> PurgeAsync(Recipient[] recipients, IReadOnlyList<Uri> endpoints, ProtocolClientOptions lean, CancellationToken ct)
    {
        long stale = 0;
        var lastFrame = Clock.Now;
        using var purge = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sockets = new ProtocolClient[recipients.Length];
        var loops = new Task[recipients.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, recipients.Length), new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = ct }, async (i, token) =>
        {
            var socket = sockets[i] = await ProtocolClient.ConnectAsync(endpoints[i % endpoints.Count], recipients[i].User.AccessToken!, lean, token);
            loops[i] = Catch(socket.ReceiveLoopAsync(async (frame, at) =>
            {
                lastFrame = at;
                if (frame.Kind != FrameKind.Message) return;
                Interlocked.Increment(ref stale);
                await socket.AckCoalescedAsync(frame.MessageId, purge.Token);
            }, purge.Token));
        });
        var t0 = Clock.Now;
        while (Clock.SecondsSince(Volatile.Read(ref lastFrame)) < 1.0 && Clock.SecondsSince(t0) < 30) await Task.Delay(100, ct);
        foreach (var socket in sockets) await socket.CloseOutputAsync();
        await purge.CancelAsync();
        await Task.WhenAll(loops);
        foreach (var socket in sockets) await socket.DisposeAsync();
        if (stale > 0) Console.Error.WriteLine($"acked {stale:N0} messages left over from an earlier run.");
        if (context.Postgres is not null)
        {
            // Acks are deleted in batches: give the last ones a moment to commit.
            for (var i = 0; i < 50 && await context.Postgres.WaitingAsync(recipients.Select(r => r.User.Username).ToArray(), ct) > 0; i++) await Task.Delay(100, ct);
        }
        return stale;
    }

    private async Task<(double Seconds, Latencies.Summary Acceptance)> FillAsync(Recipient[] recipients, IReadOnlyList<Uri> endpoints, ProtocolClientOptions lean, CancellationToken ct)
    {
        var s = options.Senders;
        var k = recipients.Length;
        var plaintext = RandomNumberGenerator.GetBytes(options.Size);
        var senders = Enumerable.Range(0, s).Select(i => new Sender(context.Pool.Users[options.FirstUser + k + i], options.InFlight, context.Options.UserFramesPerSecond)).ToArray();
        // Recipient r is written to by sender r % S, with an envelope really sealed from that sender to r.
        foreach (var r in Enumerable.Range(0, k))
        {
            var sender = senders[r % s];
            var body = Convert.ToBase64String(Envelope.Seal(sender.User.AsSender, recipients[r].User.AsRecipient, plaintext));
            var count = options.Messages / k + (r < options.Messages % k ? 1 : 0);
            sender.Targets.Add((recipients[r], Encoding.UTF8.GetBytes($"\",\"to\":\"{recipients[r].User.Username}\",\"body\":\"{body}\"}}"), count));
        }
        var active = senders.Where(x => x.Targets.Count > 0).ToArray();
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await Parallel.ForEachAsync(active, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (sender, token) =>
        {
            var index = Array.IndexOf(senders, sender);
            sender.Socket = await ProtocolClient.ConnectAsync(endpoints[index % endpoints.Count], sender.User.AccessToken!, lean, token);
            sender.Receiving = Catch(sender.Socket.ReceiveLoopAsync((frame, at) =>
            {
                if (frame.Kind is FrameKind.Accepted or FrameKind.Error && frame.HasId && sender.Pending.TryRemove(frame.Id, out var pending))
                {
                    if (frame.Kind == FrameKind.Accepted)
                    {
                        lock (pending.To.Expected) pending.To.Expected.Add(frame.MessageId);
                        lock (sender.Acceptance) sender.Acceptance.Add(at - pending.At);
                    }
                    else _errorCodes.AddOrUpdate(frame.Code ?? "(no code)", 1, (_, n) => n + 1);
                    sender.Slots.Release();
                }
                else if (frame.Kind == FrameKind.Error) _errorCodes.AddOrUpdate(frame.Code ?? "(no code)", 1, (_, n) => n + 1);
                return ValueTask.CompletedTask;
            }, run.Token));
        });
        var start = Clock.Now;
        long accepted() => recipients.Sum(r => { lock (r.Expected) return (long)r.Expected.Count; });
        long last = 0;
        using (new Progress(() =>
               {
                   var now = accepted();
                   var line = $"queued {now - last,8:N0}/s  total {now:N0}/{options.Messages:N0}  errors {_errorCodes.Values.Sum():N0}";
                   last = now;
                   return line;
               }))
        {
            await Task.WhenAll(active.Select(sender => Task.Run(async () =>
            {
                var left = sender.Targets.Select(t => t.Count).ToArray();
                for (var round = 0; left.Any(n => n > 0); round++)
                {
                    var t = round % left.Length;
                    if (left[t] == 0) continue;
                    left[t]--;
                    await sender.Slots.WaitAsync(ct);
                    await sender.Pacer.WaitAsync(ct);
                    var id = Guid.NewGuid();
                    sender.Pending[id] = (sender.Targets[t].To, Clock.Now);
                    await sender.Socket!.SendPrebuiltAsync(id, sender.Targets[t].Tail, ct);
                }
                // Every send answered before the sockets close.
                var deadline = Clock.Now + Clock.Ticks(TimeSpan.FromSeconds(60));
                while (!sender.Pending.IsEmpty && Clock.Now < deadline) await Task.Delay(20, ct);
            }, ct)));
        }
        var seconds = Clock.SecondsSince(start);
        foreach (var sender in active) await sender.Socket!.CloseOutputAsync();
        await run.CancelAsync();
        await Task.WhenAll(active.Select(x => x.Receiving!));
        foreach (var sender in active) await sender.Socket!.DisposeAsync();
        return (seconds, Latencies.Summarize(active.Select(x => x.Acceptance)));
    }

    private async Task ReceiveAsync(Recipient r, Action onNew, CancellationToken ct)
    {
        try
        {
            await r.Socket!.ReceiveLoopAsync(async (frame, at) =>
            {
                if (frame.Kind == FrameKind.Error) _errorCodes.AddOrUpdate("drain: " + (frame.Code ?? "(no code)"), 1, (_, n) => n + 1);
                if (frame.Kind != FrameKind.Message) return;
                if (!r.Seen.Add(frame.MessageId)) r.Duplicates++;
                else if (!r.Expected.Contains(frame.MessageId)) r.Unexpected++;
                else
                {
                    onNew();
                    if (++r.Got == r.Expected.Count) r.DoneAt = at;
                }
                await r.Pacer.WaitAsync(ct);
                await r.Socket.AckCoalescedAsync(frame.MessageId, ct);
            }, ct);
        }
        catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
        {
            // Closed under us.
        }
        if (!_closing) _disconnects.AddOrUpdate($"{(int?)r.Socket!.CloseStatus} {r.Socket.CloseDescription}".Trim(), 1, (_, n) => n + 1);
    }

    private static async Task Catch(Task loop)
    {
        try
        {
            await loop;
        }
        catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
        {
            // Closing.
        }
    }

    private sealed class Recipient(PoolUser user, double framesPerSecond)
    {
        public PoolUser User { get; } = user;

        public HashSet<Guid> Expected { get; } = [];

        public HashSet<Guid> Seen { get; } = [];

        public Pacer Pacer { get; } = new(framesPerSecond, Math.Max(1, framesPerSecond / 10));

        public int Got { get; set; }

        public long Duplicates { get; set; }

        public long Unexpected { get; set; }

        public long Connected { get; set; }

        public long DoneAt { get; set; }

        public ProtocolClient? Socket { get; set; }

        public Task? Receiving { get; set; }
    }

    private sealed class Sender(PoolUser user, int inFlight, double framesPerSecond)
    {
        public PoolUser User { get; } = user;

        public List<(Recipient To, byte[] Tail, int Count)> Targets { get; } = [];

        public ConcurrentDictionary<Guid, (Recipient To, long At)> Pending { get; } = new();

        public SemaphoreSlim Slots { get; } = new(inFlight, inFlight);

        public Pacer Pacer { get; } = new(framesPerSecond, Math.Max(1, framesPerSecond / 10));

        public Latencies Acceptance { get; } = new();

        public ProtocolClient? Socket { get; set; }

        public Task? Receiving { get; set; }
    }
}
