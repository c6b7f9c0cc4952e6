namespace Sealpost.Messages.Delivery;

/// <summary>What a socket does with a message offered live.</summary>
internal enum OfferDecision
{
    /// <summary>Write it to the socket now; it is in flight.</summary>
    Push,

    /// <summary>Not now (the socket is catching up or its window is full): its origin must store it, and the socket reads it from the mailbox.</summary>
    Refuse,

    /// <summary>The socket has it already (in flight or acknowledged): nothing to do.</summary>
    Ignore,
}

/// <summary>A mailbox read the socket should make now: at most <see cref="Limit"/> messages, leaving out <see cref="Exclude"/>.</summary>
internal sealed record ReadRequest(int Limit, Guid[] Exclude);

/// <summary>What to do with a finished mailbox read: messages to push in this order, ids to delete again, whether to say synced.</summary>
internal sealed record ReadOutcome(IReadOnlyList<Mailboxes.StoredMessage> Push, IReadOnlyList<Guid> AckAgain, bool Synced);

/// <summary>
/// The delivery state of one socket, without I/O: which messages are in flight and where each came from, whether the
/// socket is live (new messages are pushed as they come) or catching up (it reads its mailbox), and what it refused.
/// The socket's I/O shell (<c>Connection</c>) calls it under one lock and does what it answers.
///
/// Order, the property everything here serves: a message is pushed live only when nothing older for this socket can
/// still be on its way through the mailbox. So the socket is live only when its last mailbox read came back short
/// (it found everything), nothing was stored for it since (<see cref="OnStored"/>), no read runs, and every message it
/// refused has been stored (their origin announces that, again with <see cref="OnStored"/>). Anything else refuses,
/// and a refused message reaches the socket through the mailbox, behind everything older.
/// </summary>
internal sealed class DeliveryState(int window, TimeSpan refusalPatience)
{
    /// <summary>Acknowledged ids kept to recognise late copies, so that one connection never gets a message twice.</summary>
    public const int RecentAcksKept = 4096;

    private readonly Dictionary<Guid, Guid> _inFlight = [];
    private readonly HashSet<Guid> _acked = [];
    private readonly Queue<Guid> _ackOrder = new();
    private readonly Dictionary<Guid, (long At, Guid Origin)> _refused = [];
    private readonly Queue<Guid> _storeAcks = new();   // the latest acks of mailbox messages, whose deletes may not have landed
    private bool _dirty = true;     // the mailbox may hold messages this socket was not sent
    private bool _reading;
    private bool _caughtUp;         // the last read came back short
    private bool _announced;        // synced was sent for the current caught-up stretch
    private bool _lastReadFull;

    /// <summary>The origin recorded for messages read from the mailbox: their ack deletes them from the store.</summary>
    public static readonly Guid FromStore = Guid.Empty;

    public int InFlightCount => _inFlight.Count;

    public bool IsLive => _caughtUp && !_dirty && !_reading && _refused.Count == 0 && _inFlight.Count < window;

    public bool WindowFull => _inFlight.Count >= window;

    /// <summary>Refused messages whose storing the socket still waits to hear of.</summary>
    public bool HasRefusals => _refused.Count > 0;

    /// <summary>Ids in flight that came from the mailbox.</summary>
    public IReadOnlyCollection<Guid> InFlightFromStore => [.. _inFlight.Where(p => p.Value == FromStore).Select(p => p.Key)];

    /// <summary>
    /// A message offered live by the instance <paramref name="origin"/>, which holds it until it is acked or stored. When
    /// <paramref name="after"/> is not empty, it is the last message of the same sender socket that went to the mailbox:
    /// pushed live only if this socket has had that one (its stored-notice may have been lost on the way, so the
    /// socket may not know the mailbox holds it), else refused, so it is stored behind it.
    /// </summary>
    public OfferDecision OnOffer(Guid id, Guid origin, long nowMs, Guid after = default)
    {
        if (_inFlight.ContainsKey(id) || _acked.Contains(id)) return OfferDecision.Ignore;
        if (IsLive && (after == Guid.Empty || _inFlight.ContainsKey(after) || _acked.Contains(after)))
        {
            _inFlight[id] = origin;
            return OfferDecision.Push;
        }
        _refused[id] = (nowMs, origin);
        return OfferDecision.Refuse;
    }

    /// <summary>A message for this user was committed to the mailbox.</summary>
    public void OnStored(Guid id)
    {
        _refused.Remove(id);
        if (_inFlight.ContainsKey(id) || _acked.Contains(id)) return;
        _dirty = true;
    }

    /// <summary>Something may have been stored that no notice announced (the bus was away, a safety poll).</summary>
    public void OnWake() => _dirty = true;

    /// <summary>The client acknowledged <paramref name="id"/>: returns where the ack goes (its origin, or <see cref="FromStore"/>), or null when it was not in flight here.</summary>
    public Guid? OnAck(Guid id)
    {
        if (!_inFlight.Remove(id, out var origin)) return null;
        Remember(id);
        // Left out of the next reads: their deletes are batched and may land after the read, and a read full of them
        // would look like a backlog and be repeated at once.
        if (origin == FromStore) RememberStoreAck(id);
        return origin;
    }

    private void RememberStoreAck(Guid id)
    {
        _storeAcks.Enqueue(id);
        if (_storeAcks.Count > Math.Max(2 * window, 256)) _storeAcks.Dequeue();
    }

    /// <summary>Another socket of the user acknowledged a message from the mailbox: it is no longer in flight here.</summary>
    public void OnAckedElsewhere(Guid id)
    {
        if (_inFlight.Remove(id)) Remember(id);
    }

    /// <summary>Refusals that have waited longer than the patience, by origin: worth asking their origins about again.</summary>
    public IReadOnlyCollection<IGrouping<Guid, Guid>> Overdue(long nowMs) =>
        [.. _refused.Where(r => nowMs - r.Value.At >= refusalPatience.TotalMilliseconds).GroupBy(r => r.Value.Origin, r => r.Key)];

    /// <summary>The instance <paramref name="origin"/> died: what it held was never accepted, so nothing is waited for from it.</summary>
    public void GiveUpOn(Guid origin)
    {
        foreach (var (id, refusal) in _refused.ToList())
        {
            if (refusal.Origin == origin) _refused.Remove(id);
        }
        _dirty = true;
    }

    /// <summary>The mailbox read should start now, or null.</summary>
    public ReadRequest? BeginRead(long nowMs)
    {
        if (_reading || !_dirty || _refused.Count > 0) return null;
        var room = window - _inFlight.Count;
        // While a backlog drains, read again when half the window is free: one read per fifty messages, not per ack.
        if (room <= 0 || (_lastReadFull && _inFlight.Count > window / 2)) return null;
        _reading = true;
        _dirty = false;
        return new ReadRequest(room, [.. _inFlight.Keys, .. _storeAcks]);
    }

    public ReadOutcome EndRead(IReadOnlyList<Mailboxes.StoredMessage> found, int limit)
    {
        _reading = false;
        var push = new List<Mailboxes.StoredMessage>(found.Count);
        var again = new List<Guid>();
        foreach (var message in found)
        {
            if (_inFlight.ContainsKey(message.Id)) continue;
            // Acknowledged here, but its delete has not landed (or was lost): delete it again, do not send it twice.
            if (_acked.Contains(message.Id)) again.Add(message.Id);
            else
            {
                _inFlight[message.Id] = FromStore;
                push.Add(message);
            }
        }
        // Full, so more waits behind: read again when half the window is free. Rows acknowledged here whose deletes
        // have not landed are left out of the next reads too, so a mailbox full of them is walked past, not reread.
        foreach (var id in again) RememberStoreAck(id);
        _lastReadFull = found.Count >= limit;
        if (_lastReadFull) _dirty = true;
        _caughtUp = !_lastReadFull;
        var synced = _caughtUp && !_announced;
        _announced = _caughtUp;
        return new ReadOutcome(push, again, synced);
    }

    public void ReadFailed()
    {
        _reading = false;
        _dirty = true;
    }

    /// <summary>After a check of the store: in-flight mailbox messages that are gone were acknowledged on another instance.</summary>
    public void KeepOnly(IReadOnlyCollection<Guid> stillPending)
    {
        foreach (var id in InFlightFromStore)
        {
            if (!stillPending.Contains(id)) OnAckedElsewhere(id);
        }
        _dirty = true;
    }

    /// <summary>For a log line: where the state stands.</summary>
    public string Describe() =>
        $"{_inFlight.Count} in flight, {_refused.Count} refused from {_refused.Values.Select(r => r.Origin).Distinct().Count()} origins, " +
        $"dirty {_dirty}, reading {_reading}, caught up {_caughtUp}, last read full {_lastReadFull}";

    private void Remember(Guid id)
    {
        if (!_acked.Add(id)) return;
        _ackOrder.Enqueue(id);
        if (_ackOrder.Count > RecentAcksKept) _acked.Remove(_ackOrder.Dequeue());
    }
}
