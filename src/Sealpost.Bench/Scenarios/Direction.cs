using Sealpost.Bench.Infrastructure;

namespace Sealpost.Bench.Scenarios;

/// <summary>
/// The bookkeeping of one sender → recipient direction: which sends wait for their answer, which accepted messages
/// wait for their delivery, and what was delivered. An <c>accepted</c> and the matching <c>message</c> frame may come
/// in either order (the server pushes before it answers), so the two are joined by message id.
/// </summary>
public sealed class Direction(string sender, string recipient, SemaphoreSlim slots)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, long> _awaitingAnswer = [];
    private readonly Dictionary<Guid, long> _awaitingDelivery = [];
    private readonly Dictionary<Guid, long> _deliveredEarly = [];
    private readonly HashSet<Guid> _delivered = [];
    private readonly Dictionary<Guid, long> _sequence = [];
    private long _lastDelivered;

    public string Sender { get; } = sender;

    public string Recipient { get; } = recipient;

    /// <summary>End-to-end latency (send → recipient's message frame) of messages sent in the measured window.</summary>
    public Latencies EndToEnd { get; } = new();

    /// <summary>Send → accepted.</summary>
    public Latencies Acceptance { get; } = new();

    public long Sent { get; private set; }

    public long Accepted { get; private set; }

    public long Delivered { get; private set; }

    public long Duplicates { get; private set; }

    /// <summary>Messages delivered after one that was sent later (the sender's client id says when it was sent).</summary>
    public long OutOfOrder { get; private set; }

    /// <summary>The first few out-of-order deliveries: which send came after which, and the message ids, for a report.</summary>
    public List<string> OutOfOrderSamples { get; } = [];

    private Guid _lastDeliveredId;

    public long Errors { get; private set; }

    public long DeliveredInWindow { get; private set; }

    public long WindowStart { get; set; } = long.MaxValue;

    public long WindowEnd { get; set; } = long.MaxValue;

    public int AwaitingAnswer { get { lock (_gate) return _awaitingAnswer.Count; } }

    public int AwaitingDelivery { get { lock (_gate) return _awaitingDelivery.Count; } }

    public int DeliveredUnmatched { get { lock (_gate) return _deliveredEarly.Count; } }

    public void OnSending(Guid clientId, long at)
    {
        lock (_gate)
        {
            _awaitingAnswer[clientId] = at;
            Sent++;
            _sequence[clientId] = Sent;
        }
    }

    /// <summary>The send never left (the socket broke): nothing to wait for.</summary>
    public void OnNotSent(Guid clientId)
    {
        lock (_gate)
        {
            if (_awaitingAnswer.Remove(clientId)) Sent--;
        }
        slots.Release();
    }

    public void OnAccepted(Guid clientId, Guid messageId, long at)
    {
        lock (_gate)
        {
            if (!_awaitingAnswer.Remove(clientId, out var sentAt)) return;
            Accepted++;
            if (sentAt >= WindowStart) Acceptance.Add(at - sentAt);
            if (_deliveredEarly.Remove(messageId, out var deliveredAt))
            {
                Complete(sentAt, deliveredAt);
                return;
            }
            _awaitingDelivery[messageId] = sentAt;
        }
    }

    public void OnError(Guid clientId)
    {
        lock (_gate)
        {
            if (!_awaitingAnswer.Remove(clientId)) return;
            Errors++;
        }
        slots.Release();
    }

    /// <summary>A message frame from this direction's sender; false when it is a duplicate.</summary>
    public bool OnDelivered(Guid messageId, Guid clientId, long at)
    {
        lock (_gate)
        {
            if (!_delivered.Add(messageId))
            {
                Duplicates++;
                return false;
            }
            if (_sequence.Remove(clientId, out var sequence))
            {
                if (sequence < _lastDelivered)
                {
                    OutOfOrder++;
                    if (OutOfOrderSamples.Count < 5) OutOfOrderSamples.Add($"#{sequence} ({messageId}) after #{_lastDelivered} ({_lastDeliveredId})");
                }
                else (_lastDelivered, _lastDeliveredId) = (sequence, messageId);
            }
            Delivered++;
            if (at >= WindowStart && at <= WindowEnd) DeliveredInWindow++;
            if (_awaitingDelivery.Remove(messageId, out var sentAt)) Complete(sentAt, at);
            else _deliveredEarly[messageId] = at;
            return true;
        }
    }

    private void Complete(long sentAt, long deliveredAt)
    {
        if (sentAt >= WindowStart) EndToEnd.Add(deliveredAt - sentAt);
        slots.Release();
    }

    public bool Settled
    {
        get
        {
            lock (_gate) return _awaitingAnswer.Count == 0 && _awaitingDelivery.Count == 0;
        }
    }
}
