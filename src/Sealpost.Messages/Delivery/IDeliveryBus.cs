namespace Sealpost.Messages.Delivery;

/// <summary>A message ready to push to the recipient's sockets: its id and the serialized <c>message</c> frame.</summary>
public sealed record LiveDelivery(string Recipient, Guid MessageId, byte[] Frame);

/// <summary>
/// Carries deliveries to the instances that hold the recipient's sockets. At most once: a lost wake-up only delays a
/// message until the recipient's next mailbox read; the store stays the source of truth.
/// </summary>
public interface IDeliveryBus
{
    /// <summary>False while wake-ups may be lost (Redis away): sockets then poll the store often.</summary>
    bool IsHealthy { get; }

    Task PublishAsync(LiveDelivery delivery);

    /// <summary>Starts receiving deliveries for a user who now has a socket on this instance.</summary>
    Task SubscribeAsync(string username);

    Task UnsubscribeAsync(string username);
}

/// <summary>One instance and no Redis: the registry already delivered locally, so there is nothing to carry.</summary>
public sealed class InProcessBus : IDeliveryBus
{
    public bool IsHealthy => true;

    public Task PublishAsync(LiveDelivery delivery) => Task.CompletedTask;

    public Task SubscribeAsync(string username) => Task.CompletedTask;

    public Task UnsubscribeAsync(string username) => Task.CompletedTask;
}
