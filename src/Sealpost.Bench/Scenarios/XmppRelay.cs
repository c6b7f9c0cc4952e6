using System.Buffers.Text;
using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Sealpost.Bench.Infrastructure;

namespace Sealpost.Bench.Scenarios;

public sealed record XmppRelayOptions(
    Uri Url, string Domain, string UserPrefix, string Password, int Pairs, TimeSpan Duration, TimeSpan Warmup, double Rate, int InFlight,
    int Size, TimeSpan Grace, IReadOnlyList<int> ServerPids, IReadOnlyList<int> HaproxyPids, string CommandLine);

/// <summary>
/// The <c>relay</c> load against an XMPP server, for issue 9's comparison with ejabberd (benchmarks/ejabberd.sh): P online
/// pairs over XMPP on WebSocket (RFC 7395: one element per frame), each user logged in with SASL PLAIN, a bound resource,
/// XEP-0198 stream management and available presence; closed loop (<c>--inflight</c> messages per sender not yet
/// received) or a fixed total rate. Every recipient acknowledges with <c>&lt;a h='n'/&gt;</c> after each stanza it reads,
/// as <c>relay</c>'s clients send one ack per message (which also answers the server's <c>&lt;r/&gt;</c>). XMPP has no per-message answer to the sender, so there is no
/// "accepted": a message counts as sent once written. The figures are <c>relay</c>'s, and so are the checks.
/// </summary>
public sealed class XmppRelay(XmppRelayOptions options)
{
    private const string Framing = "urn:ietf:params:xml:ns:xmpp-framing";
    private readonly RelayTally _tally = new();

    public async Task<Report> RunAsync(CancellationToken ct)
    {
        var report = new Report("xmpp-relay", options.CommandLine);
        var probe = SystemProbe.Of([("ejabberd", options.ServerPids), ("haproxy", options.HaproxyPids)]);
        var users = options.Pairs * 2;
        var peers = new Peer[users];
        for (var i = 0; i < users; i++)
        {
            // Printable bodies (base64 text) of exactly --size bytes: nothing in them needs escaping in XML.
            var body = Convert.ToBase64String(RandomNumberGenerator.GetBytes(options.Size))[..options.Size];
            peers[i] = new Peer(options.UserPrefix + i.ToString(CultureInfo.InvariantCulture), options.Domain, body, options.InFlight);
        }
        for (var i = 0; i < users; i++)
        {
            var (p, partner) = (peers[i], peers[i ^ 1]);
            p.Partner = partner;
            p.Out = new Direction(p.Name, partner.Name, p.Slots);
            p.MessageHead = Encoding.ASCII.GetBytes($"<message xmlns='jabber:client' type='chat' to='{partner.Name}@{options.Domain}' id='");
            p.MessageTail = Encoding.ASCII.GetBytes($"'><body>{p.Body}</body></message>");
        }
        for (var i = 0; i < users; i++) peers[i].In = peers[i ^ 1].Out;

        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(20), PooledConnectionLifetime = TimeSpan.Zero });
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Console.Error.WriteLine($"logging in {users:N0} users at {options.Url}…");
        var opened = 0;
        using (new Progress(() => $"sessions {opened:N0}/{users:N0}"))
        {
            await Parallel.ForEachAsync(peers, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (peer, token) =>
            {
                peer.Socket = await LogInAsync(peer, invoker, token);
                peer.Receiving = ReceiveAsync(peer, run.Token);
                Interlocked.Increment(ref opened);
            });
        }

        // Offline messages left by an earlier run come on presence: ack them and leave them out of the figures.
        await _tally.SettleAsync(ct);

        var dirs = peers.Select(p => p.Out!).ToList();
        var (start, windowEnd) = RelayTally.StartWindow(dirs, options.Warmup, options.Duration);
        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var mode = options.Rate > 0 ? $"open loop at {options.Rate:N0} msgs/s in total" : $"closed loop, {options.InFlight} in flight per sender";
        Console.Error.WriteLine($"xmpp-relay: {options.Pairs:N0} pairs, {mode}, {options.Size} B bodies, {options.Duration.TotalSeconds:0} s ({options.Warmup.TotalSeconds:0} s warm-up)");
        using var progress = _tally.ShowProgress(dirs);
        var senders = peers.Select((p, i) => Task.Run(() => SendLoopAsync(p, i, users, start, stopSending.Token, run.Token), CancellationToken.None)).ToArray();

        await Task.Delay(options.Warmup, ct);
        var cpuBefore = probe.Snapshot();
        var remaining = windowEnd - Clock.Now;
        if (remaining > 0) await Task.Delay(TimeSpan.FromSeconds(Clock.Seconds(remaining)), ct);
        var cpu = SystemProbe.Between(cpuBefore, probe.Snapshot());
        await stopSending.CancelAsync();
        await Task.WhenAll(senders);
        progress.Dispose();

        var settledAfter = await RelayTally.AwaitSettledAsync(dirs, options.Grace, () => peers.Any(p => p.Receiving!.IsCompleted), ct);
        _tally.Closing();
        await Task.WhenAll(peers.Select(p => CloseAsync(p)));
        await run.CancelAsync();
        await Task.WhenAll(peers.Select(p => p.Receiving ?? Task.CompletedTask));
        foreach (var p in peers) p.Socket!.Dispose();

        // ---- the report, in relay's words ----
        var measured = (options.Duration - options.Warmup).TotalSeconds;
        var deliveredInWindow = dirs.Sum(d => d.DeliveredInWindow);
        var delivered = dirs.Sum(d => d.Delivered);
        var lost = dirs.Sum(d => d.AwaitingDelivery);
        var outOfOrder = dirs.Sum(d => d.OutOfOrder);
        var duplicates = dirs.Sum(d => d.Duplicates);
        var ackFrames = peers.Sum(p => p.AckFrames);
        report.Add("setup")
            .Figure("pairs", "pairs (sockets)", options.Pairs, $"({users:N0} sockets, one user each: {peers[0].Name} to {peers[^1].Name}@{options.Domain})")
            .Text("mode", "mode", mode)
            .Text("endpoints", "socket endpoint", options.Url.ToString())
            .Text("protocol", "protocol", "XMPP over WebSocket (RFC 7395), SASL PLAIN, XEP-0198 stream management, <a/> after every stanza read")
            .Figure("body_bytes", "message body", options.Size, "B")
            .Figure("duration_s", "measured", measured, $"s (after {options.Warmup.TotalSeconds:0} s warm-up)", "0");
        report.Add("throughput")
            .Figure("delivered_per_s", "delivered", deliveredInWindow / measured, "msgs/s")
            .Figure("payload_mib_per_s", "body bytes delivered", deliveredInWindow * options.Size / measured / 1048576.0, "MiB/s", "0.0");
        report.Add("latency")
            .Latency("end_to_end", "send → recipient's message", Latencies.Summarize(dirs.Select(d => d.EndToEnd)));
        var accounting = report.Add("accounting")
            .Figure("sent", "sent", dirs.Sum(d => d.Sent), "")
            .Figure("delivered", "delivered (distinct message ids)", delivered, "")
            .Figure("sent_not_delivered", "sent, never delivered", lost, "")
            .Figure("duplicates", "duplicate deliveries", duplicates, "")
            .Figure("out_of_order", "delivered after a message sent later", outOfOrder, "")
            .Figure("ack_frames", "<a/> frames sent by the clients", ackFrames, $"({(delivered > 0 ? (double)ackFrames / delivered : 0):0.00} per delivered message)")
            .Figure("ack_requests", "<r/> frames from the server", peers.Sum(p => p.AckRequests), "");
        _tally.AddTo(accounting, "errors")
            .Figure("settled_after_s", "last delivery after sends stopped", settledAfter, "s", "0.00");
        cpu.AddTo(report.Add("what bounds it"), deliveredInWindow / measured, "msg");
        Context.CheckQuiet(report, cpu);

        if (lost > 0) report.Fail($"{lost:N0} sent messages were not delivered within {options.Grace.TotalSeconds:0} s after the sends stopped.");
        _tally.Check(report, "");
        if (delivered == 0) report.Fail("nothing was delivered.");
        if (outOfOrder > 0) report.Fail($"{outOfOrder:N0} messages were delivered after a message their sender sent later, e.g. " + string.Join("; ", dirs.SelectMany(d => d.OutOfOrderSamples).Take(5)));
        if (duplicates > 0) report.Warn($"{duplicates:N0} messages were delivered more than once.");
        if (options.ServerPids.Count == 0) report.Warn("no --pids: the server's CPU was not measured.");
        return report;
    }

    /// <summary>Stream, SASL PLAIN, a second stream, resource bind, session when required, stream management, presence.</summary>
    private async Task<ClientWebSocket> LogInAsync(Peer p, HttpMessageInvoker invoker, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("xmpp");
        socket.Options.KeepAliveInterval = TimeSpan.Zero;   // the server pings
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await socket.ConnectAsync(options.Url, invoker, timeout.Token);
            var open = $"<open xmlns='{Framing}' to='{options.Domain}' version='1.0'/>";
            await SendTextAsync(socket, open, timeout.Token);
            var features = await ExpectAsync(socket, p.Reader, "features", timeout.Token);
            if (!features.Contains(">PLAIN<", StringComparison.Ordinal)) throw new BenchException($"the server does not offer SASL PLAIN here (allow it without TLS on loopback): {features}");
            var credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{p.Name}\0{options.Password}"));
            await SendTextAsync(socket, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{credentials}</auth>", timeout.Token);
            await ExpectAsync(socket, p.Reader, "success", timeout.Token);
            await SendTextAsync(socket, open, timeout.Token);
            features = await ExpectAsync(socket, p.Reader, "features", timeout.Token);
            await SendTextAsync(socket, "<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>", timeout.Token);
            await ExpectAsync(socket, p.Reader, "iq", timeout.Token);
            if (features.Contains("urn:ietf:params:xml:ns:xmpp-session", StringComparison.Ordinal) && !features.Contains("<optional/>", StringComparison.Ordinal))
            {
                await SendTextAsync(socket, "<iq xmlns='jabber:client' type='set' id='session'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>", timeout.Token);
                await ExpectAsync(socket, p.Reader, "iq", timeout.Token);
            }
            if (!features.Contains("urn:xmpp:sm:3", StringComparison.Ordinal)) throw new BenchException($"the server does not offer stream management (XEP-0198; mod_stream_mgmt): {features}");
            await SendTextAsync(socket, "<enable xmlns='urn:xmpp:sm:3'/>", timeout.Token);
            await ExpectAsync(socket, p.Reader, "enabled", timeout.Token);
            // Available presence: messages to the bare JID reach this session, and offline storage empties into it.
            await SendTextAsync(socket, "<presence xmlns='jabber:client'/>", timeout.Token);
            return socket;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            socket.Dispose();
            throw new BenchException($"{p.Name} could not log in at {options.Url} ({e.Message}): is the server up (benchmarks/ejabberd.sh)?", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads frames until one named <paramref name="name"/> (stream opens are skipped); a failure or error ends the run.</summary>
    private static async Task<string> ExpectAsync(ClientWebSocket socket, FrameReader reader, string name, CancellationToken ct)
    {
        while (true)
        {
            if (await reader.ReadAsync(socket, ct) < 0) throw new BenchException($"the server closed the socket while the client waited for <{name}>.");
            var xml = Encoding.UTF8.GetString(reader.Frame);
            var element = ElementName(xml);
            if (element == "open") continue;
            if (element != name || xml.Contains("type='error'", StringComparison.Ordinal)) throw new BenchException($"expected <{name}>, got: {xml}");
            return xml;
        }
    }

    private static string ElementName(string xml)
    {
        var end = xml.AsSpan(1).IndexOfAny(" />");
        var name = end < 0 ? xml[1..] : xml[1..(end + 1)];
        return name.StartsWith("stream:", StringComparison.Ordinal) ? name["stream:".Length..] : name;
    }

    private static async Task SendTextAsync(ClientWebSocket socket, string xml, CancellationToken ct) =>
        await socket.SendAsync(Encoding.UTF8.GetBytes(xml), WebSocketMessageType.Text, true, ct);

    private async Task SendLoopAsync(Peer p, int index, int sockets, long start, CancellationToken stop, CancellationToken run)
    {
        var schedule = new SendSchedule(options.Rate, index, sockets, start);
        while (!stop.IsCancellationRequested)
        {
            if (await schedule.NextAsync(p.Slots, null, stop) is not { } sentAt) return;
            var id = Guid.NewGuid();
            p.Out!.OnSending(id, sentAt);
            try
            {
                await p.SendMessageAsync(id, run);
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
                p.Out.OnNotSent(id);
                return;
            }
            // No answer comes in XMPP: written is as accepted as it gets.
            p.Out.OnAccepted(id, id, Clock.Now);
        }
    }

    private async Task ReceiveAsync(Peer p, CancellationToken ct)
    {
        try
        {
            while (await p.Reader.ReadAsync(p.Socket!, ct) >= 0)
            {
                var at = Clock.Now;
                _tally.OnFrame(at);
                if (OnFrame(p, p.Reader.Frame, at)) await p.AckAsync(ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // Closed under us; recorded below.
        }
        _tally.OnLoopEnded($"{(int?)p.Socket!.CloseStatus} {p.Socket.CloseStatusDescription}");
    }

    /// <summary>Handles one element; true when it calls for an <c>&lt;a/&gt;</c> (a stanza counted, or the server's <c>&lt;r/&gt;</c>).</summary>
    private bool OnFrame(Peer p, ReadOnlySpan<byte> xml, long at)
    {
        if (xml.StartsWith("<message"u8))
        {
            p.Handled++;
            var head = xml[..Math.Max(0, xml.IndexOf((byte)'>'))];
            if (Attribute(head, " type="u8).SequenceEqual("error"u8)) _tally.OnError("message type='error'");
            else if (_tally.Settling) _tally.OnStale();
            else if (!Attribute(head, " from="u8).StartsWith(p.Partner!.FullJidPrefix)) _tally.OnUnexpectedSender();
            else
            {
                if (!Body(xml).SequenceEqual(p.Partner.BodyBytes)) _tally.OnBadBody();
                if (Utf8Parser.TryParse(Attribute(head, " id="u8), out Guid id, out _, 'N') && p.In!.OnDelivered(id, id, at)) _tally.OnDelivered();
                else _tally.OnError("message without a known id");
            }
            return true;
        }
        if (xml.StartsWith("<presence"u8) || xml.StartsWith("<iq"u8))
        {
            p.Handled++;
            return true;
        }
        if (xml.StartsWith("<r "u8) || xml.StartsWith("<r/"u8))
        {
            // ejabberd asks right after a stanza, or on an <a/> while later stanzas are out: the <a/> this client sends
            // after each of those stanzas answers it, so a second one only when something was handled since the last.
            p.AckRequests++;
            return p.Handled != p.AckedH;
        }
        if (!xml.StartsWith("<a "u8)) _tally.OnError(Encoding.UTF8.GetString(xml[..Math.Min(xml.Length, 120)]));
        return false;
    }

    /// <summary>The value of an attribute (<paramref name="name"/> is <c>" name="</c>) in a start tag, either quote.</summary>
    private static ReadOnlySpan<byte> Attribute(ReadOnlySpan<byte> head, ReadOnlySpan<byte> name)
    {
        var at = head.IndexOf(name);
        if (at < 0 || at + name.Length >= head.Length) return [];
        var value = head[(at + name.Length + 1)..];
        var end = value.IndexOf(head[at + name.Length]);
        return end < 0 ? [] : value[..end];
    }

    private static ReadOnlySpan<byte> Body(ReadOnlySpan<byte> xml)
    {
        var start = xml.IndexOf("<body>"u8);
        if (start < 0) return [];
        var rest = xml[(start + "<body>".Length)..];
        var end = rest.IndexOf("</body>"u8);
        return end < 0 ? [] : rest[..end];
    }

    private static async Task CloseAsync(Peer p)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await p.WriteAsync(Encoding.ASCII.GetBytes($"<close xmlns='{Framing}'/>"), timeout.Token);
            await p.Socket!.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    /// <summary>Reads one WebSocket message (one XML element) into a buffer that grows as needed.</summary>
    private sealed class FrameReader
    {
        private byte[] _buffer = new byte[4096];
        private int _length;

        public ReadOnlySpan<byte> Frame => _buffer.AsSpan(0, _length);

        /// <summary>The frame's length, or -1 when the socket closed.</summary>
        public async ValueTask<int> ReadAsync(ClientWebSocket socket, CancellationToken ct)
        {
            _length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                if (_length == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
                result = await socket.ReceiveAsync(_buffer.AsMemory(_length), ct);
                if (result.MessageType == WebSocketMessageType.Close) return -1;
                _length += result.Count;
            }
            while (!result.EndOfMessage);
            return _length;
        }
    }

    private sealed class Peer(string name, string domain, string body, int inFlight)
    {
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        private readonly byte[] _ackBuffer = new byte[64];
        private byte[] _sendBuffer = [];

        public string Name { get; } = name;

        public byte[] FullJidPrefix { get; } = Encoding.ASCII.GetBytes($"{name}@{domain}/");

        public string Body { get; } = body;

        public byte[] BodyBytes { get; } = Encoding.ASCII.GetBytes(body);

        public SemaphoreSlim Slots { get; } = new(inFlight, inFlight);

        public FrameReader Reader { get; } = new();

        public Peer? Partner { get; set; }

        public Direction? Out { get; set; }

        public Direction? In { get; set; }

        public byte[] MessageHead { get; set; } = [];

        public byte[] MessageTail { get; set; } = [];

        public ClientWebSocket? Socket { get; set; }

        public Task? Receiving { get; set; }

        /// <summary>Stanzas received since stream management was enabled: XEP-0198's h. Only the receive loop touches it.</summary>
        public uint Handled { get; set; }

        /// <summary>The h of the last <c>&lt;a/&gt;</c> sent.</summary>
        public uint AckedH { get; private set; }

        public long AckFrames { get; private set; }

        public long AckRequests { get; set; }

        public async ValueTask SendMessageAsync(Guid id, CancellationToken ct)
        {
            await _writeLock.WaitAsync(ct);
            try
            {
                var length = MessageHead.Length + 32 + MessageTail.Length;
                if (_sendBuffer.Length < length) _sendBuffer = new byte[length];
                MessageHead.CopyTo(_sendBuffer, 0);
                id.TryFormat(_sendBuffer.AsSpan(MessageHead.Length, 32), out _, "N");
                MessageTail.CopyTo(_sendBuffer, MessageHead.Length + 32);
                await Socket!.SendAsync(_sendBuffer.AsMemory(0, length), WebSocketMessageType.Text, true, ct);
            }
            finally
            {
                _writeLock.Release();
            }
        }

        /// <summary><c>&lt;a h='n'/&gt;</c> with everything handled so far.</summary>
        public async ValueTask AckAsync(CancellationToken ct)
        {
            await _writeLock.WaitAsync(ct);
            try
            {
                var h = Handled;
                var length = Encoding.ASCII.GetBytes($"<a xmlns='urn:xmpp:sm:3' h='{h}'/>", _ackBuffer);
                await Socket!.SendAsync(_ackBuffer.AsMemory(0, length), WebSocketMessageType.Text, true, ct);
                (AckedH, AckFrames) = (h, AckFrames + 1);
            }
            finally
            {
                _writeLock.Release();
            }
        }

        public async ValueTask WriteAsync(byte[] xml, CancellationToken ct)
        {
            await _writeLock.WaitAsync(ct);
            try
            {
                await Socket!.SendAsync(xml, WebSocketMessageType.Text, true, ct);
            }
            finally
            {
                _writeLock.Release();
            }
        }
    }
}
