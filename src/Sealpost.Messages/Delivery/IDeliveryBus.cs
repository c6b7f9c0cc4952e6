namespace Sealpost.Messages.Delivery;

/// <summary>What one instance tells the origin of a live message about it.</summary>
public enum Answer : byte
{
    /// <summary>A recipient device acknowledged it: the origin need not store it.</summary>
    Acked = 1,

    /// <summary>A recipient socket could not take it live: the origin must store it now.</summary>
    Refused = 2,
}

/// <summary>
/// Carries live messages between instances, and the answers back to the instance that holds each message until it is
/// acknowledged or stored (its origin). Delivery over the bus is at most once: a lost offer or answer costs time (the
/// origin stores the message when its grace passes; sockets reread their mailboxes), never a message.
/// </summary>
public interface IDeliveryBus
{
    /// <summary>This instance's id, carried by everything it publishes.</summary>
    Guid InstanceId { get; }

    /// <summary>False while messages may be lost (Redis away): sockets then poll the store often.</summary>
    bool IsHealthy { get; }

    /// <summary>
    /// Offers a live message to the recipient's sockets on other instances; returns how many other instances hold one,
    /// or, when <paramref name="count"/> is false, does not wait for Redis to say (and returns 0).
    /// </summary>
    Task<long> OfferAsync(string recipient, Guid messageId, byte[] frame, bool count = true);

    /// <summary>Tells the recipient's sockets on other instances that a message for them was committed to the mailbox.</summary>
    void Stored(string recipient, Guid messageId);

    /// <summary>Tells the origin of live messages what became of them here (one bus message for several).</summary>
    void Tell(Guid origin, Answer answer, string recipient, IReadOnlyList<Guid> messageIds);

    /// <summary>
    /// Asks every other instance to store at once what it holds for <paramref name="recipient"/> and to answer with
    /// <see cref="Flushed"/> once that is committed; returns how many instances heard the question.
    /// </summary>
    Task<long> FlushAsync(string recipient, Guid requestId);

    /// <summary>Answers a flush request of the instance <paramref name="requester"/>.</summary>
    void Flushed(Guid requester, Guid requestId);

    /// <summary>This instance is connected to the bus again: every instance's sockets reread their mailboxes (notices this one published meanwhile were lost).</summary>
    void Returned();

    /// <summary>Whether the instance still runs (it listens on the bus).</summary>
    Task<bool> IsAliveAsync(Guid instance);

    /// <summary>How many instances run, this one included.</summary>
    Task<long> InstancesAsync();

    /// <summary>Starts receiving for a user who now has a socket on this instance; false when the bus could not be reached (nothing is left half-subscribed).</summary>
    Task<bool> SubscribeAsync(string username);

    Task UnsubscribeAsync(string username);
}

/// <summary>One instance and no Redis: every socket is local, so there is nothing to carry.</summary>
public sealed class InProcessBus : IDeliveryBus
{
    public Guid InstanceId { get; } = Guid.NewGuid();

    public bool IsHealthy => true;

    public Task<long> OfferAsync(string recipient, Guid messageId, byte[] frame, bool count = true) => Task.FromResult(0L);

    public void Stored(string recipient, Guid messageId)
    {
    }

    public void Tell(Guid origin, Answer answer, string recipient, IReadOnlyList<Guid> messageIds)
    {
    }

    public Task<long> FlushAsync(string recipient, Guid requestId) => Task.FromResult(0L);

    public void Flushed(Guid requester, Guid requestId)
    {
    }

    public void Returned()
    {
    }

    public Task<bool> IsAliveAsync(Guid instance) => Task.FromResult(instance == InstanceId);

    public Task<long> InstancesAsync() => Task.FromResult(1L);

    public Task<bool> SubscribeAsync(string username) => Task.FromResult(true);

    public Task UnsubscribeAsync(string username) => Task.CompletedTask;
}
