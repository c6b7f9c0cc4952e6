using Sealpost.Messages.Sockets;
using StackExchange.Redis;

namespace Sealpost.Messages.Delivery;

/// <summary>Redis (section <c>Redis</c>); without a configuration the in-process bus serves a single instance.</summary>
public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>A StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379</c>.</summary>
    public string? Configuration { get; set; }
}

/// <summary>
/// Redis pub/sub with one channel per user (<c>sealpost:u:&lt;username&gt;</c>), subscribed while the user has a socket
/// here. A payload is the publishing instance's id, the message id and the frame; an instance ignores its own.
/// </summary>
public sealed partial class RedisBus(IConnectionMultiplexer redis, Lazy<ConnectionRegistry> registry, ILogger<RedisBus> logger) : IDeliveryBus
{
    private static readonly Guid InstanceId = Guid.NewGuid();
    private readonly ISubscriber _subscriber = redis.GetSubscriber();

    public bool IsHealthy => redis.IsConnected;

    public async Task PublishAsync(LiveDelivery delivery)
    {
        var payload = new byte[32 + delivery.Frame.Length];
        InstanceId.TryWriteBytes(payload.AsSpan(0, 16));
        delivery.MessageId.TryWriteBytes(payload.AsSpan(16, 16));
        delivery.Frame.CopyTo(payload, 32);
        try
        {
            await _subscriber.PublishAsync(Channel(delivery.Recipient), payload, CommandFlags.FireAndForget);
        }
        catch (RedisException e)
        {
            LogPublishFailed(logger, e.Message);
        }
    }

    public async Task SubscribeAsync(string username)
    {
        try
        {
            await _subscriber.SubscribeAsync(Channel(username), (channel, value) => OnMessage(username, value));
        }
        catch (RedisException e)
        {
            // The socket still gets its mail: it polls the store while the bus is unhealthy.
            LogPublishFailed(logger, e.Message);
        }
    }

    public async Task UnsubscribeAsync(string username)
    {
        try
        {
            await _subscriber.UnsubscribeAsync(Channel(username));
        }
        catch (RedisException e)
        {
            LogPublishFailed(logger, e.Message);
        }
    }

    private void OnMessage(string username, RedisValue value)
    {
        var payload = (byte[]?)value;
        if (payload is null || payload.Length < 32) return;
        if (new Guid(payload.AsSpan(0, 16)) == InstanceId) return;
        registry.Value.DeliverLocal(new LiveDelivery(username, new Guid(payload.AsSpan(16, 16)), payload[32..]));
    }

    private static RedisChannel Channel(string username) => RedisChannel.Literal("sealpost:u:" + username);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is not answering; live delivery falls back to polling: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string reason);
}
