namespace Sealpost.Messages.Cluster;

/// <summary>
/// How the instances of the messages service speak to one another: to the instances that hold a socket of a device,
/// to one instance, or to all, and who is there. Delivery over the bus is at most once and never back to the instance
/// that published; what one instance publishes to one device, instance or to all arrives in the order it was published.
/// A lost bus message costs time (the origin stores a message when its grace passes; sockets reread their mailboxes),
/// never a message. Implementations: <see cref="RedisClusterBus"/> (several instances) and
/// <see cref="InMemoryClusterBus"/> (instances in one process: one instance alone, or the tests' several).
/// </summary>
internal interface IClusterBus
{
    /// <summary>This instance's id, carried by everything it publishes.</summary>
    Guid InstanceId { get; }

    /// <summary>False while bus messages may be lost (the bus is away): sockets then poll the store often.</summary>
    bool IsHealthy { get; }

    /// <summary>The bus went away: what was published meanwhile, here or elsewhere, may be lost.</summary>
    event Action? Lost;

    /// <summary>The bus is back after <see cref="Lost"/>.</summary>
    event Action? Restored;

    /// <summary>
    /// Starts handing what arrives for this instance (to it, to all, to the devices it subscribed) to
    /// <paramref name="listener"/>, one message at a time per device, instance or broadcast; retries until the bus
    /// answers. The listener is attached before the first await.
    /// </summary>
    Task ListenAsync(IBusListener listener, CancellationToken ct);

    /// <summary>Publishes to the other instances that hold a socket of <paramref name="device"/>; returns how many there were.</summary>
    Task<long> PublishToDeviceAsync(string device, BusMessage message);

    /// <summary>Publishes to the other instances that hold a socket of <paramref name="device"/>, without waiting to hear how many.</summary>
    void PublishToDevice(string device, BusMessage message);

    /// <summary>Publishes to one instance.</summary>
    void PublishToInstance(Guid instance, BusMessage message);

    /// <summary>Publishes to every other instance; returns how many heard it.</summary>
    Task<long> PublishToAllAsync(BusMessage message);

    /// <summary>Starts receiving what is published to <paramref name="device"/>; false when the bus could not be reached (nothing is left half-subscribed).</summary>
    Task<bool> SubscribeAsync(string device);

    Task UnsubscribeAsync(string device);

    /// <summary>Whether the instance still runs (it listens on the bus).</summary>
    Task<bool> IsAliveAsync(Guid instance);

    /// <summary>How many instances run, this one included.</summary>
    Task<long> InstancesAsync();
}

/// <summary>Takes what the bus brings to this instance.</summary>
internal interface IBusListener
{
    /// <summary>
    /// A message published to <paramref name="device"/> (null: to this instance, or to all). Called one at a time per
    /// device, instance or broadcast, in publication order; it must not block.
    /// </summary>
    void OnMessage(BusMessage message, string? device);
}
