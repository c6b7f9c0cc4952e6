using System.Diagnostics.Metrics;
using Sealpost.Messages.Mailboxes;
using Sealpost.Protocol;

namespace Sealpost.Messages.Monitoring;

/// <summary>
/// The messages service's instruments (meter <c>Sealpost.Messages</c>), exported on <c>/metrics</c> with the names in
/// docs/operations.md. One per instance, from the host's <see cref="IMeterFactory"/>: the hot path adds to a lock-free
/// counter with a label from a fixed set, never a user's name, and allocates nothing. The gauges read the instance's
/// parts when Prometheus scrapes (<see cref="Observe"/>).
/// </summary>
internal sealed class MessagesMetrics
{
    public const string MeterName = "Sealpost.Messages";
    private readonly Meter _meter;
    private MailboxDepth _depth = MailboxDepth.Empty;

    // Client-controlled strings never become labels: each label value below is one of a fixed few.
    private static readonly KeyValuePair<string, object?> TypeSend = new("type", FrameTypes.Send);
    private static readonly KeyValuePair<string, object?> TypeAck = new("type", FrameTypes.Ack);
    private static readonly KeyValuePair<string, object?> TypeAuth = new("type", FrameTypes.Auth);
    private static readonly KeyValuePair<string, object?> TypeOther = new("type", "other");
    private static readonly KeyValuePair<string, object?> TypeMessage = new("type", FrameTypes.Message);
    private static readonly KeyValuePair<string, object?> TypeAccepted = new("type", FrameTypes.Accepted);
    private static readonly KeyValuePair<string, object?> TypeError = new("type", FrameTypes.Error);
    private static readonly KeyValuePair<string, object?> TypeSynced = new("type", FrameTypes.Synced);
    private static readonly KeyValuePair<string, object?> TypeAuthenticated = new("type", FrameTypes.Authenticated);
    private static readonly Dictionary<string, KeyValuePair<string, object?>> Reasons = new[]
    {
        ErrorCodes.UnknownRecipient, ErrorCodes.TooLarge, ErrorCodes.BadFrame, ErrorCodes.MailboxFull, ErrorCodes.RateLimited, ErrorCodes.Internal,
    }.ToDictionary(c => c, c => new KeyValuePair<string, object?>("reason", c), StringComparer.Ordinal);

    public static readonly KeyValuePair<string, object?> Stored = new("outcome", "stored");
    public static readonly KeyValuePair<string, object?> AckedBeforeWrite = new("outcome", "acked_before_write");
    public static readonly KeyValuePair<string, object?> Duplicate = new("outcome", "duplicate");
    public static readonly KeyValuePair<string, object?> Live = new("source", "live");
    public static readonly KeyValuePair<string, object?> FromMailbox = new("source", "mailbox");
    public static readonly KeyValuePair<string, object?> StoreOp = new("op", "store");
    public static readonly KeyValuePair<string, object?> DeleteOp = new("op", "delete");
    public static readonly KeyValuePair<string, object?> SlowReader = new("reason", "slow_reader");

    private Counter<long> FramesReceived { get; }

    private Counter<long> FramesSent { get; }

    /// <summary>Messages answered <c>accepted</c>, by outcome: stored (committed to a mailbox), acked_before_write (a device acknowledged it within the grace, never written), duplicate (a resend of a waiting message).</summary>
    public Counter<long> Accepted { get; }

    private Counter<long> Refused { get; }

    public Counter<long> Delivered { get; }

    public Counter<long> Acknowledged { get; }

    public Counter<long> Expired { get; }

    public Counter<long> SocketsDropped { get; }

    public Histogram<double> WriteDuration { get; }

    public Histogram<int> WriteBatch { get; }

    public Counter<long> WriteFailures { get; }

    public Counter<long> BusDisconnects { get; }

    public Counter<long> BusReconnects { get; }


    public MessagesMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        FramesReceived = _meter.CreateCounter<long>("sealpost.socket.frames.received", "{frame}", "Frames read from client sockets, by type (send, ack, auth, other: unparseable or unknown)");
        FramesSent = _meter.CreateCounter<long>("sealpost.socket.frames.sent", "{frame}", "Frames written to client sockets, by type (message, accepted, error, synced, authenticated)");
        Accepted = _meter.CreateCounter<long>("sealpost.messages.accepted", "{message}", "Sends answered accepted, by outcome: stored, acked_before_write (delivered and acknowledged before any write), duplicate");
        Refused = _meter.CreateCounter<long>("sealpost.messages.refused", "{message}", "Sends answered with an error, by reason (the error code)");
        Delivered = _meter.CreateCounter<long>("sealpost.messages.delivered", "{message}", "Message frames pushed to recipient sockets, by source: live (straight from a sender) or mailbox");
        Acknowledged = _meter.CreateCounter<long>("sealpost.messages.acknowledged", "{message}", "Acks of messages in flight to a socket here");
        Expired = _meter.CreateCounter<long>("sealpost.messages.expired", "{message}", "Undelivered messages deleted by the sweep after Mailboxes:MessageLifetime");
        SocketsDropped = _meter.CreateCounter<long>("sealpost.sockets.dropped", "{socket}", "Sockets the server cut, by reason (slow_reader: over Sockets:SendQueueLimit frames queued)");
        WriteDuration = _meter.CreateHistogram(
            "sealpost.mailbox.write.duration", "s", "Time of one mailbox write batch (one statement and commit), by op (store, delete)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5] });
        WriteBatch = _meter.CreateHistogram(
            "sealpost.mailbox.write.batch_messages", "{message}", "Messages (or acks) in one mailbox write batch, by op",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] });
        WriteFailures = _meter.CreateCounter<long>("sealpost.mailbox.write.failures", "{batch}", "Mailbox write batches that failed, by op");
        BusDisconnects = _meter.CreateCounter<long>("sealpost.bus.disconnects", "{event}", "Redis connections lost (one per connection: interactive and subscriber)");
        BusReconnects = _meter.CreateCounter<long>("sealpost.bus.reconnects", "{event}", "Redis connections restored");
    }

    public void FrameReceived(string? type) => FramesReceived.Add(1, type switch
    {
        FrameTypes.Send => TypeSend,
        FrameTypes.Ack => TypeAck,
        FrameTypes.Auth => TypeAuth,
        _ => TypeOther,
    });

    /// <summary>Every server frame starts <c>{"type":"</c>: its type is told from the next two bytes, without parsing.</summary>
    public void FrameSent(byte[] frame)
    {
        if (frame.Length < 11) return;
        FramesSent.Add(1, (frame[9], frame[10]) switch
        {
            ((byte)'m', _) => TypeMessage,
            ((byte)'a', (byte)'c') => TypeAccepted,
            ((byte)'a', _) => TypeAuthenticated,
            ((byte)'e', _) => TypeError,
            ((byte)'s', _) => TypeSynced,
            _ => TypeOther,
        });
    }

    public void Refuse(string code)
    {
        if (Reasons.TryGetValue(code, out var reason)) Refused.Add(1, reason);
    }

    /// <summary>The last mailbox census (taken after each sweep).</summary>
    public void SetDepth(MailboxDepth depth) => Volatile.Write(ref _depth, depth);

    /// <summary>Gauges read when Prometheus scrapes, from the parts of this instance.</summary>
    public void Observe(Func<int> openSockets, Func<int> heldMessages, Func<int> queuedStores, Func<int> queuedDeletes, Func<bool> busUp)
    {
        _meter.CreateObservableGauge("sealpost.sockets.open", openSockets, "{socket}", "Client sockets open on this instance");
        _meter.CreateObservableGauge("sealpost.relay.held_messages", heldMessages, "{message}",
            "Messages this instance holds: offered live and waiting for an ack within Sockets:AckGrace, or waiting for their write");
        _meter.CreateObservableGauge("sealpost.mailbox.write.queued", () => new[]
        {
            new Measurement<int>(queuedStores(), StoreOp), new Measurement<int>(queuedDeletes(), DeleteOp),
        }, "{message}", "Messages (or acks) waiting for a mailbox write batch, by op");
        _meter.CreateObservableGauge("sealpost.bus.up", () => busUp() ? 1 : 0, null,
            "1 while the delivery bus (Redis) is connected; 0 while live delivery between instances falls back to polling");
        _meter.CreateObservableGauge("sealpost.mailbox.messages", () => Volatile.Read(ref _depth).Messages, "{message}",
            "Undelivered messages in all mailboxes (every instance reports the same census: take max, not sum)");
        _meter.CreateObservableGauge("sealpost.mailboxes", () =>
        {
            var d = Volatile.Read(ref _depth);
            return d.AtLeast.Select((count, i) => new Measurement<long>(count, new KeyValuePair<string, object?>("min_messages", MailboxDepth.Bounds[i])));
        }, "{mailbox}", "Mailboxes holding at least min_messages undelivered messages (1, 10, 100, 1000, 10000): a bounded picture of the deepest");
        _meter.CreateObservableGauge("sealpost.mailbox.deepest_messages", () => Volatile.Read(ref _depth).Deepest, "{message}", "Undelivered messages in the fullest mailbox");
        _meter.CreateObservableGauge("sealpost.mailbox.oldest_age", () => Volatile.Read(ref _depth).OldestAgeSeconds, "s", "Age of the oldest undelivered message");
    }
}
