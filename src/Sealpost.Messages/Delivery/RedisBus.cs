using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Sealpost.Protocol;
using StackExchange.Redis;

namespace Sealpost.Messages.Delivery;

/// <summary>Redis (section <c>Redis</c>); without a configuration the in-process bus serves a single instance.</summary>
public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>A StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379,password=…</c>.</summary>
    public string? Configuration { get; set; }
}

/// <summary>
/// Redis pub/sub. Each user with a socket here has a channel (<c>sealpost:u:&lt;username&gt;</c>) carrying offers and
/// stored-notices for them; each instance has one (<c>sealpost:i:&lt;instance id&gt;</c>) carrying answers about the
/// messages it holds. A user's channel is read through one queue, so what one origin published for a user is handled
/// here in the order it was published: a stored-notice is never overtaken by a later offer.
///
/// A third channel (<c>sealpost:flush</c>), which every instance reads, carries the flush a new socket asks for, and the
/// news that an instance is connected again after Redis was away.
///
/// Payload: kind (1 byte), origin instance (16), message or request id (16), then the frame (offer), the user (flush), or
/// further message ids and the user (answer).
/// </summary>
public sealed partial class RedisBus : IDeliveryBus
{
    private const byte OfferKind = 1;
    private const byte StoredKind = 2;
    private const byte FlushKind = 5;
    private const byte FlushedKind = 6;
    private const byte ReturnedKind = 7;
    private static readonly RedisChannel FlushChannel = RedisChannel.Literal("sealpost:flush");
    private const int HeaderBytes = 33;
    private readonly IConnectionMultiplexer _redis;
    private readonly ISubscriber _subscriber;
    private readonly Lazy<Relay> _relay;
    private readonly Lazy<Sockets.ConnectionRegistry> _registry;
    private readonly Identity.DeviceDirectory _directory;
    private readonly Mailboxes.IMailboxStore _store;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ChannelMessageQueue> _users = new(StringComparer.Ordinal);

    public RedisBus(IConnectionMultiplexer redis, Lazy<Relay> relay, Lazy<Sockets.ConnectionRegistry> registry,
        Identity.DeviceDirectory directory, Mailboxes.IMailboxStore store, ILogger<RedisBus> logger)
    {
        _directory = directory;
        _store = store;
        _redis = redis;
        _subscriber = redis.GetSubscriber();
        _relay = relay;
        _registry = registry;
        _logger = logger;
        _ = ListenAsync();
    }

    public Guid InstanceId { get; } = Guid.NewGuid();

    public bool IsHealthy => _redis.IsConnected;

    public async Task<long> OfferAsync(string recipient, Guid messageId, byte[] frame, bool count = true)
    {
        var payload = Payload(OfferKind, messageId, frame.Length);
        frame.CopyTo(payload, HeaderBytes);
        if (!count)
        {
            Publish(UserChannel(recipient), payload);
            return 0;
        }
        var receivers = await _subscriber.PublishAsync(UserChannel(recipient), payload).ConfigureAwait(false);
        // This instance hears its own offers when it holds a socket of the recipient too; it delivered those already.
        return _users.ContainsKey(recipient) ? Math.Max(0, receivers - 1) : receivers;
    }

    public void Stored(string recipient, Guid messageId) => Publish(UserChannel(recipient), Payload(StoredKind, messageId, 0));

    // An answer: kind, origin, the first id, a 2-byte count of further ids, those ids (16 bytes each), the recipient.
    public void Tell(Guid origin, Answer answer, string recipient, IReadOnlyList<Guid> messageIds)
    {
        var others = messageIds.Count - 1;
        var payload = Payload((byte)answer, messageIds[0], 2 + (others * 16) + Encoding.UTF8.GetByteCount(recipient));
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(HeaderBytes), (ushort)others);
        for (var i = 1; i <= others; i++) messageIds[i].TryWriteBytes(payload.AsSpan(HeaderBytes + 2 + ((i - 1) * 16), 16));
        Encoding.UTF8.GetBytes(recipient, payload.AsSpan(HeaderBytes + 2 + (others * 16)));
        Publish(InstanceChannel(origin), payload);
    }

    public async Task<long> FlushAsync(string recipient, Guid requestId)
    {
        var payload = Payload(FlushKind, requestId, Encoding.UTF8.GetByteCount(recipient));
        Encoding.UTF8.GetBytes(recipient, payload.AsSpan(HeaderBytes));
        // Every instance listens on the flush channel, this one too: it answers its own request locally instead.
        return Math.Max(0, await _subscriber.PublishAsync(FlushChannel, payload).ConfigureAwait(false) - 1);
    }

    public void Flushed(Guid requester, Guid requestId) => Publish(InstanceChannel(requester), Payload(FlushedKind, requestId, 0));

    public void Returned() => Publish(FlushChannel, Payload(ReturnedKind, Guid.Empty, 0));

    // An instance listens on its own channel for as long as it runs: Redis drops the subscription with the connection.
    public async Task<bool> IsAliveAsync(Guid instance) =>
        await Server().SubscriptionSubscriberCountAsync(InstanceChannel(instance)).ConfigureAwait(false) > 0;

    public Task<long> InstancesAsync() => Server().SubscriptionSubscriberCountAsync(FlushChannel);

    private IServer Server() => _redis.GetServer(_redis.GetEndPoints()[0]);

    public async Task<bool> SubscribeAsync(string username)
    {
        var channel = UserChannel(username);
        try
        {
            var queue = await _subscriber.SubscribeAsync(channel).ConfigureAwait(false);
            queue.OnMessage(m => OnUserMessage(username, m.Message));
            _users[username] = queue;
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogBusFailed(_logger, e);
            // StackExchange.Redis registers the queue before it sends SUBSCRIBE and keeps it when that fails (and
            // subscribes it again after a reconnect): a queue nobody reads, where this user's notices would vanish.
            // Drop the channel's subscription whole; the registry subscribes again later.
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

    public async Task UnsubscribeAsync(string username)
    {
        if (!_users.TryRemove(username, out var queue)) return;
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

    // Until it succeeds (Redis may be away at start); once subscribed, the multiplexer resubscribes after reconnects.
    private async Task ListenAsync()
    {
        while (true)
        {
            try
            {
                var queue = await _subscriber.SubscribeAsync(InstanceChannel(InstanceId)).ConfigureAwait(false);
                queue.OnMessage(m => OnAnswer(m.Message));
                var flushes = await _subscriber.SubscribeAsync(FlushChannel).ConfigureAwait(false);
                flushes.OnMessage(m => OnFlush(m.Message));
                var sessions = await _subscriber.SubscribeAsync(RedisChannel.Literal(SessionsEnded.Channel)).ConfigureAwait(false);
                sessions.OnMessage(m => OnSessionsEnded(m.Message));
                var devices = await _subscriber.SubscribeAsync(RedisChannel.Literal(DevicesChanged.Channel)).ConfigureAwait(false);
                devices.OnMessage(m => OnDevicesChangedAsync(m.Message));
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                LogBusFailed(_logger, e);
                await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }
        }
    }

    private void OnUserMessage(string username, RedisValue value)
    {
        var payload = (byte[]?)value;
        if (payload is null || payload.Length < HeaderBytes) return;
        var origin = new Guid(payload.AsSpan(1, 16));
        if (origin == InstanceId) return;
        var messageId = new Guid(payload.AsSpan(17, 16));
        if (payload[0] == OfferKind) _relay.Value.OnRemoteOffer(username, messageId, origin, payload[HeaderBytes..]);
        else if (payload[0] == StoredKind) _registry.Value.NotifyStored(username, messageId);
    }

    private void OnAnswer(RedisValue value)
    {
        var payload = (byte[]?)value;
        if (payload is null || payload.Length < HeaderBytes) return;
        var id = new Guid(payload.AsSpan(17, 16));
        if (payload[0] == FlushedKind) _relay.Value.OnFlushed(id);
        else if (payload[0] is (byte)Answer.Acked or (byte)Answer.Refused && payload.Length > HeaderBytes + 2)
        {
            var others = BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(HeaderBytes));
            var names = HeaderBytes + 2 + (others * 16);
            if (payload.Length <= names) return;
            var recipient = Encoding.UTF8.GetString(payload.AsSpan(names));
            var answer = (Answer)payload[0];
            _relay.Value.OnAnswer(answer, recipient, id);
            for (var i = 0; i < others; i++) _relay.Value.OnAnswer(answer, recipient, new Guid(payload.AsSpan(HeaderBytes + 2 + (i * 16), 16)));
        }
    }

    private void OnFlush(RedisValue value)
    {
        var payload = (byte[]?)value;
        if (payload is null || payload.Length < HeaderBytes) return;
        var requester = new Guid(payload.AsSpan(1, 16));
        if (requester == InstanceId) return;
        if (payload[0] == ReturnedKind) _registry.Value.WakeAll();
        if (payload[0] != FlushKind || payload.Length == HeaderBytes) return;
        _relay.Value.OnFlushRequest(Encoding.UTF8.GetString(payload.AsSpan(HeaderBytes)), requester, new Guid(payload.AsSpan(17, 16)));
    }

    // From the users service (JSON): close the sockets of sessions that ended.
    private void OnSessionsEnded(RedisValue value)
    {
        SessionsEnded? ended;
        try
        {
            ended = JsonSerializer.Deserialize((byte[]?)value, SealpostJsonContext.Default.SessionsEnded);
        }
        catch (JsonException)
        {
            return;
        }
        if (ended?.Username is not null) _registry.Value.EndSessions(ended);
    }

    // From the users service (JSON): forget the account's cached devices; a removed device's mailbox goes (every instance
    // hears this and deletes, which is idempotent; a notice lost while Redis is away leaves the rows to expire).
    private async Task OnDevicesChangedAsync(RedisValue value)
    {
        DevicesChanged? changed;
        try
        {
            changed = JsonSerializer.Deserialize((byte[]?)value, SealpostJsonContext.Default.DevicesChanged);
        }
        catch (JsonException)
        {
            return;
        }
        if (changed?.Username is null) return;
        _directory.Forget(changed.Username);
        if (changed.Removed is not { } removed || removed < 1) return;
        try
        {
            await _store.DeleteMailboxAsync(Identity.DeviceAddress.Of(changed.Username, removed), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogRemovedMailboxFailed(_logger, e);
        }
    }

    private byte[] Payload(byte kind, Guid messageId, int extra)
    {
        var payload = new byte[HeaderBytes + extra];
        payload[0] = kind;
        InstanceId.TryWriteBytes(payload.AsSpan(1, 16));
        messageId.TryWriteBytes(payload.AsSpan(17, 16));
        return payload;
    }

    private void Publish(RedisChannel channel, byte[] payload)
    {
        try
        {
            _subscriber.Publish(channel, payload, CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogBusFailed(_logger, e);
        }
    }

    private static RedisChannel UserChannel(string username) => RedisChannel.Literal("sealpost:u:" + username);

    private static RedisChannel InstanceChannel(Guid instance) => RedisChannel.Literal("sealpost:i:" + instance.ToString("N"));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting the mailbox of a removed device failed; its messages stay until they expire")]
    private static partial void LogRemovedMailboxFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is not answering; live delivery falls back to the mailbox and polling")]
    private static partial void LogBusFailed(ILogger logger, Exception e);
}
