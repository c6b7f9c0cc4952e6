using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Sealpost.Bench.Infrastructure;
using Sealpost.Crypto;
using Sealpost.Testing;

namespace Sealpost.Bench.Scenarios;

public sealed record RelayOptions(
    int FirstUser, int Pairs, TimeSpan Duration, TimeSpan Warmup, double Rate, int InFlight, int Size, bool EncryptEach, int Envelopes, TimeSpan Grace);

/// <summary>
/// P online pairs send to each other, closed loop (each socket keeps at most <c>--inflight</c> messages between send
/// and delivery) or open loop at a fixed total rate; every recipient acks every message. Measures delivered
/// messages per second and end-to-end latency, and checks every accepted message arrived exactly once, intact.
/// </summary>
public sealed class Relay(Context context, RelayOptions options)
{
    private readonly RelayTally _tally = new();

    public async Task<Report> RunAsync(CancellationToken ct)
    {
        var report = context.NewReport("relay");
        var users = options.Pairs * 2;
        await context.Pool.EnsureAsync(options.FirstUser + users, context.Api, 4, ct);
        await context.Pool.RefreshAsync(options.FirstUser, users, context.Api, 16, ct);

        // Every body is a real envelope, sealed here before the run unless --encrypt-each.
        var plaintext = RandomNumberGenerator.GetBytes(options.Size);
        var peers = new Peer[users];
        for (var i = 0; i < users; i++) peers[i] = new Peer(context.Pool.Users[options.FirstUser + i], options.InFlight, context.Options.UserFramesPerSecond);
        for (var i = 0; i < users; i++)
        {
            var partner = peers[i ^ 1];
            peers[i].Partner = partner;
            peers[i].Out = new Direction(peers[i].User.Username, partner.User.Username, peers[i].Slots);
            peers[i].PartnerName = Encoding.UTF8.GetBytes(partner.User.Username);
            if (!options.EncryptEach)
            {
                var tails = peers[i].Tails = new byte[options.Envelopes][];
                var bodies = peers[i].Bodies = new byte[options.Envelopes][];
                for (var k = 0; k < options.Envelopes; k++)
                {
                    var envelope = Envelope.Seal(peers[i].User.AsSender, partner.User.AsRecipient, plaintext);
                    bodies[k] = Encoding.ASCII.GetBytes(Convert.ToBase64String(envelope));
                    tails[k] = Tail(partner.User.Username, bodies[k]);
                }
            }
        }
        for (var i = 0; i < users; i++) peers[i].In = peers[i ^ 1].Out;
        var envelopeBytes = options.Size + Envelope.Overhead;

        var endpoints = Target.SocketEndpoints(context.Options.Url, context.Options.Direct);
        using var invoker = ProtocolClient.CreateInvoker();
        var lean = ProtocolClientOptions.Lean(invoker);
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Console.Error.WriteLine($"connecting {users:N0} sockets…");
        var opened = 0;
        using (new Progress(() => $"sockets {opened:N0}/{users:N0}"))
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, users), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (i, token) =>
            {
                var peer = peers[i];
                peer.Socket = await ProtocolClient.ConnectAsync(endpoints[i % endpoints.Count], peer.User.AccessToken!, lean, token);
                peer.Receiving = ReceiveAsync(peer, run.Token);
                Interlocked.Increment(ref opened);
            });
        }

        // Mail left by an earlier, interrupted run arrives first: ack it and leave it out of the figures.
        await _tally.SettleAsync(ct);

        var cpuBefore = default(CpuSnapshot);
        var pgBefore = default(PgSnapshot);
        var dirs = peers.Select(p => p.Out!).ToList();
        var (start, windowEnd) = RelayTally.StartWindow(dirs, options.Warmup, options.Duration);
        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var mode = options.Rate > 0 ? $"open loop at {options.Rate:N0} msgs/s in total" : $"closed loop, {options.InFlight} in flight per socket";
        Console.Error.WriteLine($"relay: {options.Pairs:N0} pairs, {mode}, {options.Size} B plaintext ({envelopeBytes} B envelopes), " +
                                $"{options.Duration.TotalSeconds:0} s ({options.Warmup.TotalSeconds:0} s warm-up){(options.EncryptEach ? ", sealing and opening every message" : "")}");
        using var progress = _tally.ShowProgress(dirs);
        var senders = peers.Select((p, i) => Task.Run(() => SendLoopAsync(p, i, users, start, stopSending.Token, run.Token), CancellationToken.None)).ToArray();

        await Task.Delay(options.Warmup, ct);
        cpuBefore = context.Probe.Snapshot();
        if (context.Postgres is not null) pgBefore = await context.Postgres.SnapshotAsync(ct);
        var remaining = windowEnd - Clock.Now;
        if (remaining > 0) await Task.Delay(TimeSpan.FromSeconds(Clock.Seconds(remaining)), ct);
        var cpu = SystemProbe.Between(cpuBefore, context.Probe.Snapshot());
        var pgAfter = context.Postgres is null ? null : await context.Postgres.SnapshotAsync(ct);

        await stopSending.CancelAsync();
        await Task.WhenAll(senders);
        progress.Dispose();

        var settledAfter = await RelayTally.AwaitSettledAsync(dirs, options.Grace, () => AnyDropped(peers), ct);
        _tally.Closing();
        await Task.WhenAll(peers.Select(p => p.Socket!.CloseOutputAsync()));
        await run.CancelAsync();
        await Task.WhenAll(peers.Select(p => p.Receiving ?? Task.CompletedTask));
        foreach (var p in peers) await p.Socket!.DisposeAsync();

        // ---- the report ----
        var measured = (options.Duration - options.Warmup).TotalSeconds;
        // Counted by the time each message arrived, so a busy client that wakes late does not shift the window.
        var deliveredInWindow = dirs.Sum(d => d.DeliveredInWindow);
        var sent = dirs.Sum(d => d.Sent);
        var accepted = dirs.Sum(d => d.Accepted);
        var delivered = dirs.Sum(d => d.Delivered);
        var lost = dirs.Sum(d => d.AwaitingDelivery);
        var unanswered = dirs.Sum(d => d.AwaitingAnswer);
        var unmatched = dirs.Sum(d => d.DeliveredUnmatched);
        var duplicates = dirs.Sum(d => d.Duplicates);
        var outOfOrder = dirs.Sum(d => d.OutOfOrder);
        var paced = peers.Sum(p => Clock.Seconds(p.Pacer.WaitedTicks)) / (users * options.Duration.TotalSeconds);

        report.Add("setup")
            .Figure("pairs", "pairs (sockets)", options.Pairs, $"({users:N0} sockets, one user each: pool accounts {options.FirstUser:N0} to {options.FirstUser + users - 1:N0})")
            .Text("mode", "mode", mode)
            .Text("endpoints", "socket endpoints", string.Join(", ", endpoints))
            .Figure("plaintext_bytes", "plaintext", options.Size, "B")
            .Figure("envelope_bytes", "envelope", envelopeBytes, "B")
            .Text("bodies", "bodies", options.EncryptEach ? "sealed and opened for every message by the clients" : $"{options.Envelopes} envelopes per direction, sealed before the run")
            .Figure("user_frames_per_s", "client frame budget per user", context.Options.UserFramesPerSecond, "frames/s (sends + acks)")
            .Figure("duration_s", "measured", measured, $"s (after {options.Warmup.TotalSeconds:0} s warm-up)", "0");
        report.Add("throughput")
            .Figure("delivered_per_s", "delivered", deliveredInWindow / measured, "msgs/s")
            .Figure("accepted_per_s", "accepted", dirs.Sum(d => d.Acceptance.Count) / measured, "msgs/s")
            .Figure("payload_mib_per_s", "envelope bytes delivered", deliveredInWindow * envelopeBytes / measured / 1048576.0, "MiB/s", "0.0");
        report.Add("latency")
            .Latency("end_to_end", "send → recipient's message", Latencies.Summarize(dirs.Select(d => d.EndToEnd)))
            .Latency("acceptance", "send → accepted", Latencies.Summarize(dirs.Select(d => d.Acceptance)));
        var accounting = report.Add("accounting")
            .Figure("sent", "sent", sent, "")
            .Figure("accepted", "accepted", accepted, "")
            .Figure("delivered", "delivered (distinct message ids)", delivered, "")
            .Figure("accepted_not_delivered", "accepted, never delivered", lost, "")
            .Figure("duplicates", "duplicate deliveries", duplicates, "")
            .Figure("out_of_order", "delivered after a message sent later", outOfOrder, "")
            .Figure("unanswered", "sends with no answer", unanswered, "")
            .Figure("delivered_without_accepted", "delivered, never accepted", unmatched, "");
        _tally.AddTo(accounting, "error frames")
            .Figure("settled_after_s", "last delivery after sends stopped", settledAfter, "s", "0.00");
        var bounds = report.Add("what bounds it");
        cpu.AddTo(bounds, deliveredInWindow / measured, "msg");
        if (pgAfter is not null) PostgresProbe.AddTo(bounds, pgBefore!, pgAfter, deliveredInWindow);
        bounds.Figure("client_budget_wait_pct", "senders waiting on the frame budget", paced * 100, "% of the time", "0.0");
        Context.CheckQuiet(report, cpu);

        if (lost > 0) report.Fail($"{lost:N0} accepted messages were not delivered within {options.Grace.TotalSeconds:0} s after the sends stopped.");
        _tally.Check(report, " (or did not open)");
        if (delivered == 0) report.Fail("nothing was delivered.");
        if (outOfOrder > 0)
            report.Fail($"{outOfOrder:N0} messages were delivered after a message their sender sent later (docs/protocol.md promises send order), e.g. " +
                string.Join("; ", dirs.SelectMany(d => d.OutOfOrderSamples).Take(5)));
        if (duplicates > 0) report.Warn($"{duplicates:N0} messages were delivered more than once on the same socket (at-least-once allows it; a stable socket should not need it).");
        if (unanswered > 0) report.Warn($"{unanswered:N0} sends got neither accepted nor an error (dropped by the server's frame limit, or still in flight when the grace ended).");
        if (unmatched > 0) report.Warn($"{unmatched:N0} messages were delivered whose accepted never came.");
        if (paced > 0.05) report.Warn($"senders spent {paced:P0} of the run waiting on the per-user frame budget: the figure is bounded by the number of pairs (add --pairs), not by the system.");
        return report;
    }

    private static bool AnyDropped(Peer[] peers) => peers.Any(p => p.Receiving?.IsCompleted == true);

    private async Task SendLoopAsync(Peer p, int index, int sockets, long start, CancellationToken stop, CancellationToken run)
    {
        var schedule = new SendSchedule(options.Rate, index, sockets, start);
        var tail = options.EncryptEach ? new byte[1024 + options.Size * 2] : null;
        var plaintext = options.EncryptEach ? RandomNumberGenerator.GetBytes(options.Size) : null;
        var k = 0;
        while (!stop.IsCancellationRequested)
        {
            if (await schedule.NextAsync(p.Slots, p.Pacer, stop) is not { } sentAt) return;
            var id = Guid.NewGuid();
            ReadOnlyMemory<byte> frameTail;
            if (tail is not null)
            {
                var envelope = Envelope.Seal(p.User.AsSender, p.Partner!.User.AsRecipient, plaintext);
                frameTail = tail.AsMemory(0, WriteTail(tail, p.Partner.User.Username, envelope, encode: true));
            }
            else frameTail = p.Tails![k++ % p.Tails.Length];
            p.Out!.OnSending(id, sentAt);
            try
            {
                await p.Socket!.SendPrebuiltAsync(id, frameTail, run);
            }
            catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
            {
                p.Out.OnNotSent(id);
                return;
            }
        }
    }

    private async Task ReceiveAsync(Peer p, CancellationToken ct)
    {
        try
        {
            await p.Socket!.ReceiveLoopAsync(async (frame, at) =>
            {
                _tally.OnFrame(at);
                switch (frame.Kind)
                {
                    case FrameKind.Accepted:
                        if (frame.HasId) p.Out!.OnAccepted(frame.Id, frame.MessageId, at);
                        break;
                    case FrameKind.Error:
                        _tally.OnError(frame.Code ?? "(no code)");
                        if (frame.HasId) p.Out!.OnError(frame.Id);
                        break;
                    case FrameKind.Message:
                        if (_tally.Settling) _tally.OnStale();
                        else if (!frame.From.Span.SequenceEqual(p.PartnerName)) _tally.OnUnexpectedSender();
                        else
                        {
                            if (!BodyIsIntact(p, frame.Body.Span)) _tally.OnBadBody();
                            if (p.In!.OnDelivered(frame.MessageId, frame.ClientId, at)) _tally.OnDelivered();
                        }
                        await p.Pacer.WaitAsync(ct);
                        await p.Socket.AckCoalescedAsync(frame.MessageId, ct);
                        break;
                    case FrameKind.Malformed:
                        _tally.OnError("(malformed frame from server)");
                        break;
                }
            }, ct);
        }
        catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
        {
            // Closed under us; recorded below.
        }
        _tally.OnLoopEnded($"{(int?)p.Socket!.CloseStatus} {p.Socket.CloseDescription}");
    }

    private bool BodyIsIntact(Peer p, ReadOnlySpan<byte> body)
    {
        if (!options.EncryptEach)
        {
            foreach (var expected in p.Partner!.Bodies!) if (body.SequenceEqual(expected)) return true;
            return false;
        }
        try
        {
            var envelope = new byte[Base64.GetMaxDecodedFromUtf8Length(body.Length)];
            if (Base64.DecodeFromUtf8(body, envelope, out _, out var written) != System.Buffers.OperationStatus.Done) return false;
            var partner = p.Partner!.User;
            var opened = Envelope.Open(envelope.AsSpan(0, written), p.User.Username, (uint)p.User.KeyId, p.User.Keys.PrivateKey,
                partner.Username, partner.Keys.PublicKey);
            return opened.Length == options.Size;
        }
        catch (CryptoException)
        {
            return false;
        }
    }

    private static byte[] Tail(string to, byte[] body)
    {
        var buffer = new byte[64 + body.Length + to.Length];
        var n = WriteTail(buffer, to, body, encode: false);
        return buffer[..n];
    }

    /// <summary>Everything of a send frame after its id: <c>","to":"…","body":"…"}</c>.</summary>
    private static int WriteTail(Span<byte> destination, string to, ReadOnlySpan<byte> bodyOrEnvelope, bool encode)
    {
        var n = 0;
        void Put(ReadOnlySpan<byte> s, Span<byte> d)
        {
            s.CopyTo(d[n..]);
            n += s.Length;
        }
        Put("\",\"to\":\""u8, destination);
        n += Encoding.ASCII.GetBytes(to, destination[n..]);
        Put("\",\"body\":\""u8, destination);
        // A pre-sealed body is already base64; an envelope sealed now is encoded here.
        if (encode)
        {
            Base64.EncodeToUtf8(bodyOrEnvelope, destination[n..], out _, out var written);
            n += written;
        }
        else Put(bodyOrEnvelope, destination);
        Put("\"}"u8, destination);
        return n;
    }

    private sealed class Peer(PoolUser user, int inFlight, double framesPerSecond)
    {
        public PoolUser User { get; } = user;

        public SemaphoreSlim Slots { get; } = new(inFlight, inFlight);

        public Pacer Pacer { get; } = new(framesPerSecond, Math.Max(1, framesPerSecond / 10));

        public Peer? Partner { get; set; }

        public byte[] PartnerName { get; set; } = [];

        public Direction? Out { get; set; }

        public Direction? In { get; set; }

        public byte[][]? Tails { get; set; }

        public byte[][]? Bodies { get; set; }

        public ProtocolClient? Socket { get; set; }

        public Task? Receiving { get; set; }
    }
}
