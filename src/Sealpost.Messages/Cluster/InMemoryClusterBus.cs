using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Sealpost.Messages.Cluster;

/// <summary>
/// Instances in one process, joined by an <see cref="InMemoryHub"/>: one instance alone (no Redis configured), or the
/// several instances of a test. Keeps the bus's promise: what one instance publishes arrives at each other instance in
/// the order it was published, one message at a time. <see cref="Disconnect"/> is a kill -9 as the others see it.
/// </summary>
internal sealed class InMemoryClusterBus : IClusterBus
{
    private readonly InMemoryHub _hub;
    private readonly Channel<(BusMessage Message, string? Device)> _inbox =
        Channel.CreateUnbounded<(BusMessage, string?)>(new UnboundedChannelOptions { SingleReader = true });
    private IBusListener? _listener;
    private volatile bool _gone;

    public InMemoryClusterBus(InMemoryHub hub)
    {
        _hub = hub;
        hub.Join(this);
    }

    /// <summary>An instance alone, on a hub of its own.</summary>
    public InMemoryClusterBus()
        : this(new InMemoryHub())
    {
    }

    public Guid InstanceId { get; } = Guid.NewGuid();

    public bool IsHealthy => !_gone;

    // Nothing between instances of one process can be lost.
#pragma warning disable CS0067
    public event Action? Lost;

    public event Action? Restored;
#pragma warning restore CS0067

    public async Task ListenAsync(IBusListener listener, CancellationToken ct)
    {
        _listener = listener;
        await Task.Yield();
        try
        {
            await foreach (var (message, device) in _inbox.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                if (_gone) continue;
                if (_hub.Delay() is var delay && delay > TimeSpan.Zero) await Task.Delay(delay, ct).ConfigureAwait(false);
                listener.OnMessage(message, device);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    public Task<long> PublishToDeviceAsync(string device, BusMessage message)
    {
        if (_gone) throw new InvalidOperationException("This instance left the bus.");
        return Task.FromResult((long)Send(_hub.SubscribersOf(device), message, device));
    }

    public void PublishToDevice(string device, BusMessage message) => Send(_hub.SubscribersOf(device), message, device);

    public void PublishToInstance(Guid instance, BusMessage message) => Send(_hub.Instance(instance), message, null);

    public async Task<long> PublishToAllAsync(BusMessage message)
    {
        if (_gone) throw new InvalidOperationException("This instance left the bus.");
        await Task.Yield();
        return Send(_hub.Instances, message, null);
    }

    public Task<bool> SubscribeAsync(string device)
    {
        _hub.Subscribe(device, this);
        return Task.FromResult(true);
    }

    public Task UnsubscribeAsync(string device)
    {
        _hub.Unsubscribe(device, this);
        return Task.CompletedTask;
    }

    public Task<bool> IsAliveAsync(Guid instance) => Task.FromResult(_hub.Instance(instance).Any());

    public Task<long> InstancesAsync() => Task.FromResult((long)_hub.Instances.Count());

    /// <summary>Leaves the bus at once, like a killed process: nothing more is published or handed to the listener.</summary>
    public void Disconnect()
    {
        _gone = true;
        _hub.Leave(this);
    }

    private int Send(IEnumerable<InMemoryClusterBus> to, BusMessage message, string? device)
    {
        if (_gone) return 0;
        var count = 0;
        foreach (var bus in to)
        {
            if (bus == this) continue;
            bus._inbox.Writer.TryWrite((message, device));
            count++;
        }
        return count;
    }
}

/// <summary>What joins the <see cref="InMemoryClusterBus"/>es of one process; a test may make delivery late now and then.</summary>
internal sealed class InMemoryHub(Func<TimeSpan>? delay = null)
{
    private readonly ConcurrentDictionary<Guid, InMemoryClusterBus> _instances = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<InMemoryClusterBus, bool>> _devices = new(StringComparer.Ordinal);

    internal IEnumerable<InMemoryClusterBus> Instances => _instances.Values;

    internal TimeSpan Delay() => delay?.Invoke() ?? TimeSpan.Zero;

    internal void Join(InMemoryClusterBus bus) => _instances[bus.InstanceId] = bus;

    internal void Leave(InMemoryClusterBus bus)
    {
        _instances.TryRemove(bus.InstanceId, out _);
        foreach (var subscribers in _devices.Values) subscribers.TryRemove(bus, out _);
    }

    internal IEnumerable<InMemoryClusterBus> Instance(Guid id) => _instances.TryGetValue(id, out var bus) ? [bus] : [];

    internal IEnumerable<InMemoryClusterBus> SubscribersOf(string device) => _devices.TryGetValue(device, out var set) ? set.Keys : [];

    internal void Subscribe(string device, InMemoryClusterBus bus)
    {
        if (_instances.ContainsKey(bus.InstanceId)) _devices.GetOrAdd(device, _ => new())[bus] = true;
    }

    internal void Unsubscribe(string device, InMemoryClusterBus bus)
    {
        if (_devices.TryGetValue(device, out var set)) set.TryRemove(bus, out _);
    }
}
