using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Sealpost.Messages.Cluster;

/// <summary>Redis (section <c>Redis</c>); without a configuration one instance runs alone on <see cref="InMemoryClusterBus"/>.</summary>
internal sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>A StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379,password=…</c>.</summary>
    public string? Configuration { get; set; }
}

/// <summary>
/// The cluster bus on Redis sharded pub/sub (<c>SSUBSCRIBE</c>/<c>SPUBLISH</c>): in a Redis Cluster each channel lives
/// on the node of its hash slot, so a publish costs one node, not all of them, and the bus grows with the cluster; a
/// single Redis takes the same commands. Each device with a socket here has a channel (<c>sealpost:u:&lt;device&gt;</c>);
/// each instance has one (<c>sealpost:i:&lt;instance id&gt;</c>); every instance reads <c>sealpost:all</c>, whose
/// subscriber count says how many instances run. A channel is read through one queue, so what one instance published
/// to it is handled here in the order it was published: a stored-notice is never overtaken by a later offer.
/// </summary>
internal sealed partial class RedisClusterBus : IClusterBus
{
    private const string AllName = "sealpost:all";
    private static readonly RedisChannel AllChannel = RedisChannel.Sharded(AllName);
    private readonly IConnectionMultiplexer _redis;
    private readonly ISubscriber _subscriber;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ChannelMessageQueue> _devices = new(StringComparer.Ordinal);
    private IBusListener? _listener;

    // In a Redis Cluster the multiplexer stays connected when one node dies: the node's replica takes its slots once
    // the cluster's node timeout passes, and the multiplexer moves the subscriptions there. Until then what is published
    // on those slots is lost, and no "restored" comes for a node that stays dead: so the bus counts as away for this
    // long after any of its connections fails, and sockets poll meanwhile.
    // Also, the multiplexer does not always move sharded subscriptions to the new owner of their slots (seen: a device
    // whose channel lived on a killed master heard nothing more), so after a failure every channel is subscribed again
    // once the cluster has had time to fail over, and the bus stays away until that succeeded for all of them.
    private static readonly long FailoverWindowMs = (long)TimeSpan.FromSeconds(10).TotalMilliseconds;
    private static readonly TimeSpan RepairAfter = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan RepairRetry = TimeSpan.FromSeconds(2);
    private long _failedAt = long.MinValue / 2;
    private int _repairing;

    public RedisClusterBus(IConnectionMultiplexer redis, ILogger<RedisClusterBus> logger)
    {
        _redis = redis;
        _subscriber = redis.GetSubscriber();
        _logger = logger;
        redis.ConnectionFailed += (_, _) => Failed();
        redis.ConnectionRestored += (_, _) => Restored?.Invoke();
    }

    public Guid InstanceId { get; } = Guid.NewGuid();

    // A connection failed, or a command to a node timed out: a node cut off without a reset (a host whose link went
    // down) times commands out for many seconds before the multiplexer calls its connection failed, and publishes
    // made meanwhile, stored-notices among them, are lost.
    private void Failed()
    {
        Volatile.Write(ref _failedAt, Environment.TickCount64);
        if (Interlocked.Exchange(ref _repairing, 1) == 0) _ = RepairSubscriptionsAsync();
        Lost?.Invoke();
    }

    private async Task<T> WatchedAsync<T>(Task<T> call)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisConnectionException or TimeoutException)
        {
            Failed();
            throw;
        }
    }

    public bool IsHealthy =>
        _redis.IsConnected && Volatile.Read(ref _repairing) == 0 && Environment.TickCount64 - Volatile.Read(ref _failedAt) > FailoverWindowMs;

    public event Action? Lost;

    public event Action? Restored;

    // Until it succeeds (Redis may be away at start); once subscribed, the multiplexer resubscribes after reconnects.
    public async Task ListenAsync(IBusListener listener, CancellationToken ct)
    {
        _listener = listener;
        while (true)
        {
            try
            {
                var mine = await _subscriber.SubscribeAsync(InstanceChannel(InstanceId)).ConfigureAwait(false);
                mine.OnMessage(m => Deliver(m.Message, null));
                var all = await _subscriber.SubscribeAsync(AllChannel).ConfigureAwait(false);
                all.OnMessage(m => Deliver(m.Message, null));
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                LogBusFailed(_logger, e);
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
        }
    }

    private async Task RepairSubscriptionsAsync()
    {
        try
        {
            await Task.Delay(RepairAfter).ConfigureAwait(false);
            while (!await ResubscribeAllAsync().ConfigureAwait(false)) await Task.Delay(RepairRetry).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _repairing, 0);
        }
    }

    // Each channel dropped and subscribed afresh, so the multiplexer sends SSUBSCRIBE to its slot's owner now. What is
    // published to a channel meanwhile is lost; the sockets poll until the bus is healthy, and read once more then.
    private async Task<bool> ResubscribeAllAsync()
    {
        if (_listener is null) return true;   // ListenAsync has not subscribed yet: it will, from scratch
        var all = await ResubscribeAsync(InstanceChannel(InstanceId), null).ConfigureAwait(false);
        all &= await ResubscribeAsync(AllChannel, null).ConfigureAwait(false);
        foreach (var device in _devices.Keys) all &= await ResubscribeAsync(DeviceChannel(device), device).ConfigureAwait(false);
        return all;
    }

    private async Task<bool> ResubscribeAsync(RedisChannel channel, string? device)
    {
        try
        {
            await _subscriber.UnsubscribeAsync(channel).ConfigureAwait(false);
            var queue = await _subscriber.SubscribeAsync(channel).ConfigureAwait(false);
            queue.OnMessage(m => Deliver(m.Message, device));
            if (device is null) return true;
            if (_devices.ContainsKey(device)) _devices[device] = queue;
            else await queue.UnsubscribeAsync().ConfigureAwait(false);   // the device left meanwhile
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogBusFailed(_logger, e);
            return false;
        }
    }

    public async Task<long> PublishToDeviceAsync(string device, BusMessage message)
    {
        var receivers = await WatchedAsync(_subscriber.PublishAsync(DeviceChannel(device), BusEnvelope.Encode(message))).ConfigureAwait(false);
        // This instance hears its own publications when it holds a socket of the device too; it does not count.
        return _devices.ContainsKey(device) ? Math.Max(0, receivers - 1) : receivers;
    }

    public void PublishToDevice(string device, BusMessage message) => Publish(DeviceChannel(device), message);

    public void PublishToInstance(Guid instance, BusMessage message) => Publish(InstanceChannel(instance), message);

    public async Task<long> PublishToAllAsync(BusMessage message) =>
        // Every instance listens on the channel, this one too.
        Math.Max(0, await WatchedAsync(_subscriber.PublishAsync(AllChannel, BusEnvelope.Encode(message))).ConfigureAwait(false) - 1);

    // An instance listens on its own channel for as long as it runs: Redis drops the subscription with the connection.
    public async Task<bool> IsAliveAsync(Guid instance) => await SubscribersAsync(InstanceName(instance)).ConfigureAwait(false) > 0;

    public Task<long> InstancesAsync() => SubscribersAsync(AllName);

    // PUBSUB SHARDNUMSUB on the node that holds the channel's slot (the channel hashes as a key of the same name would):
    // the name passed as a key routes it there, and the multiplexer follows the slot when it moves. (GetServer(key) threw
    // "the specified endpoint is not defined" after a failover, for good: a socket waiting to ask stayed stuck.)
    private async Task<long> SubscribersAsync(string channel)
    {
        var reply = await WatchedAsync(_redis.GetDatabase().ExecuteAsync("PUBSUB", ["SHARDNUMSUB", (RedisKey)channel])).ConfigureAwait(false);
        return ((RedisResult[])reply!) is [_, var count] ? (long)count : 0;
    }

    public async Task<bool> SubscribeAsync(string device)
    {
        var channel = DeviceChannel(device);
        try
        {
            var queue = await _subscriber.SubscribeAsync(channel).ConfigureAwait(false);
            queue.OnMessage(m => Deliver(m.Message, device));
            _devices[device] = queue;
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogBusFailed(_logger, e);
            if (e is RedisConnectionException or TimeoutException) Failed();
            // StackExchange.Redis registers the queue before it sends SUBSCRIBE and keeps it when that fails (and
            // subscribes it again after a reconnect): a queue nobody reads, where this device's notices would vanish.
            // Drop the channel's subscription whole; the caller subscribes again later.
            try
            {
                await _subscriber.UnsubscribeAsync(channel).ConfigureAwait(false);
            }
            catch (Exception again) when (again is RedisException or TimeoutException)
            {
                // Dropped here already; Redis may keep sending to this instance, which then ignores it.
            }
            return false;
        }
    }

    public async Task UnsubscribeAsync(string device)
    {
        if (!_devices.TryRemove(device, out var queue)) return;
        try
        {
            // StackExchange.Redis times an UNSUBSCRIBE out now and then (RedisTimeoutException is a TimeoutException, not a
            // RedisException); the channel is then left subscribed with nobody reading it, which costs only traffic.
            await queue.UnsubscribeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogBusFailed(_logger, e);
        }
    }

    private void Deliver(RedisValue value, string? device)
    {
        if (BusEnvelope.Decode((byte[]?)value) is not { } message || message.From == InstanceId) return;
        _listener?.OnMessage(message, device);
    }

    private void Publish(RedisChannel channel, BusMessage message)
    {
        try
        {
            _subscriber.Publish(channel, BusEnvelope.Encode(message), CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogBusFailed(_logger, e);
        }
    }

    private static RedisChannel DeviceChannel(string device) => RedisChannel.Sharded("sealpost:u:" + device);

    private static string InstanceName(Guid instance) => "sealpost:i:" + instance.ToString("N");

    private static RedisChannel InstanceChannel(Guid instance) => RedisChannel.Sharded(InstanceName(instance));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is not answering; live delivery falls back to the mailbox and polling")]
    private static partial void LogBusFailed(ILogger logger, Exception e);
}
