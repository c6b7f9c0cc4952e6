using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Delivery;

namespace Sealpost.Messages.Sockets;

/// <summary>
/// The sockets open on this instance, by user, and the bus subscriptions that follow them: an instance listens for a
/// user exactly while it holds one of the user's sockets.
/// </summary>
public sealed class ConnectionRegistry(IDeliveryBus bus, IOptions<SocketOptions> options, TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, UserSockets> _users = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _subscriptionGate = new(1, 1);
    private readonly HashSet<string> _subscribed = new(StringComparer.Ordinal);

    /// <summary>Adds a socket and returns the user's shared frame budget.</summary>
    public async Task<TokenBucket> AddAsync(Connection connection)
    {
        var user = _users.AddOrUpdate(connection.Username,
            _ => new UserSockets(connection, new TokenBucket(options.Value.FramesPerSecond, options.Value.FramesPerSecond * 2.0, clock)),
            (_, existing) => existing.With(connection));
        await SyncSubscriptionAsync(connection.Username);
        return user.Bucket;
    }

    public async Task RemoveAsync(Connection connection)
    {
        while (_users.TryGetValue(connection.Username, out var user))
        {
            var rest = user.Without(connection);
            var done = rest.Count == 0
                ? _users.TryRemove(new KeyValuePair<string, UserSockets>(connection.Username, user))
                : _users.TryUpdate(connection.Username, rest, user);
            if (done) break;
        }
        await SyncSubscriptionAsync(connection.Username);
    }

    /// <summary>Pushes a just-stored message to the recipient's sockets here and, through the bus, elsewhere.</summary>
    public Task DeliverAsync(LiveDelivery delivery)
    {
        DeliverLocal(delivery);
        return bus.PublishAsync(delivery);
    }

    public void DeliverLocal(LiveDelivery delivery)
    {
        if (_users.TryGetValue(delivery.Recipient, out var user))
            foreach (var connection in user.Connections) connection.Offer(delivery);
    }

    /// <summary>An ack on one socket frees the message on the user's other sockets here too.</summary>
    public void NotifyAcked(string username, Guid messageId)
    {
        if (_users.TryGetValue(username, out var user))
            foreach (var connection in user.Connections) connection.OnAcked(messageId);
    }

    /// <summary>Every socket rereads its mailbox (after the bus was away and wake-ups may have been lost).</summary>
    public void WakeAll()
    {
        foreach (var user in _users.Values)
            foreach (var connection in user.Connections) connection.Wake();
    }

    public IEnumerable<Connection> All() => _users.Values.SelectMany(u => u.Connections);

    // Runs sub/unsub one at a time and decides from the state at that moment, so a quick disconnect and
    // reconnect can never leave a connected user unsubscribed.
    private async Task SyncSubscriptionAsync(string username)
    {
        await _subscriptionGate.WaitAsync();
        try
        {
            var wanted = _users.ContainsKey(username);
            if (wanted && _subscribed.Add(username)) await bus.SubscribeAsync(username);
            else if (!wanted && _subscribed.Remove(username)) await bus.UnsubscribeAsync(username);
        }
        finally
        {
            _subscriptionGate.Release();
        }
    }

    private sealed record UserSockets(Connection[] Connections, TokenBucket Bucket)
    {
        public UserSockets(Connection first, TokenBucket bucket) : this([first], bucket)
        {
        }

        public int Count => Connections.Length;

        public UserSockets With(Connection c) => this with { Connections = [.. Connections, c] };

        public UserSockets Without(Connection c) => this with { Connections = Connections.Where(x => x != c).ToArray() };
    }
}
