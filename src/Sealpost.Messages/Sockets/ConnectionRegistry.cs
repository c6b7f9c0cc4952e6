using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Delivery;

namespace Sealpost.Messages.Sockets;

/// <summary>
/// The sockets open on this instance, by user, and the bus subscriptions that follow them: an instance listens for a
/// user exactly while it holds one of the user's sockets. A user's frame budget outlives their sockets for a while, so
/// reconnecting does not refill it.
/// </summary>
public sealed class ConnectionRegistry(IDeliveryBus bus, IOptions<SocketOptions> options, TimeProvider clock)
{
    private static readonly TimeSpan BudgetMemory = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, UserSockets> _users = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (TokenBucket Bucket, long LeftAt)> _budgets = new(StringComparer.Ordinal);
    private static readonly TimeSpan ResubscribeDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxResubscribeDelay = TimeSpan.FromSeconds(30);
    private readonly Dictionary<string, TimeSpan> _resubscribeDelays = new(StringComparer.Ordinal);
    // Sub/unsub of one user run one at a time; users share 64 gates, so one slow Redis call holds up few others.
    private readonly SemaphoreSlim[] _subscriptionGates = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly HashSet<string> _subscribed = new(StringComparer.Ordinal);

    /// <summary>Adds a socket and returns the user's shared frame budget, or null when the user has too many sockets here.</summary>
    public async Task<TokenBucket?> AddAsync(SocketDelivery connection)
    {
        var limit = options.Value.MaxSocketsPerUser;
        var added = false;
        var user = _users.AddOrUpdate(connection.Address,
            name =>
            {
                added = true;
                return new UserSockets([connection], BudgetOf(name));
            },
            (_, existing) =>
            {
                added = existing.Count < limit;
                return added ? existing with { Connections = [.. existing.Connections, connection] } : existing;
            });
        if (!added) return null;
        await SyncSubscriptionAsync(connection.Address);
        return user.Bucket;
    }

    public async Task RemoveAsync(SocketDelivery connection)
    {
        while (_users.TryGetValue(connection.Address, out var user))
        {
            if (!user.Connections.Contains(connection)) return;
            var rest = user with { Connections = [.. user.Connections.Where(c => c != connection)] };
            bool done;
            if (rest.Count == 0)
            {
                done = _users.TryRemove(new KeyValuePair<string, UserSockets>(connection.Address, user));
                if (done) _budgets[connection.Address] = (user.Bucket, clock.GetTimestamp());
            }
            else done = _users.TryUpdate(connection.Address, rest, user);
            if (done) break;
        }
        await SyncSubscriptionAsync(connection.Address);
        ForgetOldBudgets();
    }

    /// <summary>Offers a live message to the recipient's sockets here: how many pushed it, and whether any refused it.</summary>
    public (int Pushed, bool Refused) Offer(string recipient, Guid messageId, Guid origin, byte[] frame)
    {
        if (!_users.TryGetValue(recipient, out var user)) return (0, false);
        var pushed = 0;
        var refused = false;
        foreach (var connection in user.Connections)
        {
            switch (connection.Offer(messageId, origin, frame))
            {
                case OfferDecision.Push: pushed++; break;
                case OfferDecision.Refuse: refused = true; break;
            }
        }
        return (pushed, refused);
    }

    /// <summary>A message for the user was committed to the mailbox.</summary>
    public void NotifyStored(string username, Guid messageId)
    {
        if (_users.TryGetValue(username, out var user))
            foreach (var connection in user.Connections) connection.OnStored(messageId);
    }

    /// <summary>An ack on one socket deleted a mailbox message: the user's other sockets here stop waiting for its ack.</summary>
    public void NotifyAcked(string username, Guid messageId, SocketDelivery except)
    {
        if (_users.TryGetValue(username, out var user))
            foreach (var connection in user.Connections)
                if (connection != except) connection.OnAckedElsewhere(messageId);
    }

    /// <summary>Sessions ended (logout, new password, key rotation, deleted account): their sockets here close with 4401.</summary>
    public void EndSessions(Protocol.SessionsEnded ended)
    {
        // Every device of the user: a scan, but sessions end seldom (a logout, a new password, a removed device).
        foreach (var (address, user) in _users)
        {
            if (!Identity.DeviceAddress.Belongs(address, ended.Username)) continue;
            foreach (var connection in user.Connections)
            {
                if (ended.Covers(connection.Session))
                    connection.Close((System.Net.WebSockets.WebSocketCloseStatus)Protocol.CloseCodes.TokenExpired,
                        "The session ended (logged out, new password, new key, device removed or account deleted); log in again.");
            }
        }
    }

    /// <summary>Every socket rereads its mailbox (after the bus was away and announcements may have been lost).</summary>
    public void WakeAll()
    {
        foreach (var connection in All()) connection.Wake();
    }

    /// <summary>
    /// The bus went away: stored-notices published meanwhile are lost, so every socket here rereads its mailbox now and
    /// every <see cref="SocketOptions.DegradedPollInterval"/> until the bus is back. One loop for the instance.
    /// </summary>
    public void OnBusLost()
    {
        if (Interlocked.Exchange(ref _pollingWhileAway, 1) == 0) _ = PollWhileBusAwayAsync();
    }

    private int _pollingWhileAway;

    private async Task PollWhileBusAwayAsync()
    {
        try
        {
            do
            {
                WakeAll();
                await Task.Delay(options.Value.DegradedPollInterval, clock);
            }
            while (!bus.IsHealthy);
        }
        finally
        {
            Volatile.Write(ref _pollingWhileAway, 0);
        }
    }

    public IEnumerable<SocketDelivery> All() => _users.Values.SelectMany(u => u.Connections);

    public int SocketCount => _users.Values.Sum(u => u.Count);

    private TokenBucket BudgetOf(string username) =>
        _budgets.TryRemove(username, out var kept)
            ? kept.Bucket
            : new TokenBucket(options.Value.FramesPerSecond, options.Value.FramesPerSecond * 2.0, clock);

    private void ForgetOldBudgets()
    {
        if (_budgets.Count < 1024) return;
        foreach (var (name, kept) in _budgets)
        {
            if (clock.GetElapsedTime(kept.LeftAt) > BudgetMemory) _budgets.TryRemove(name, out _);
        }
    }

    // Runs sub/unsub one at a time and decides from the state at that moment, so a quick disconnect and
    // reconnect can never leave a connected user unsubscribed. Each bus call ends within Redis's own timeouts.
    private async Task SyncSubscriptionAsync(string username)
    {
        var gate = _subscriptionGates[(int)((uint)StringComparer.Ordinal.GetHashCode(username) % (uint)_subscriptionGates.Length)];
        await gate.WaitAsync();
        var failed = false;
        try
        {
            bool subscribe, unsubscribe;
            lock (_subscribed)
            {
                var wanted = _users.ContainsKey(username);
                subscribe = wanted && _subscribed.Add(username);
                unsubscribe = !wanted && _subscribed.Remove(username);
            }
            if (subscribe && !await bus.SubscribeAsync(username))
            {
                lock (_subscribed) _subscribed.Remove(username);
                failed = true;
            }
            else if (unsubscribe) await bus.UnsubscribeAsync(username);
        }
        finally
        {
            gate.Release();
        }
        // Never fail a socket for Redis: it is subscribed again once Redis answers, and then reads what it may have missed.
        if (failed) _ = ResubscribeAsync(username);
    }

    // Waits for the bus to be back (no SUBSCRIBE storm while Redis is away), then tries again, backing off while it
    // keeps failing; SyncSubscriptionAsync starts the next attempt if this one fails too.
    private async Task ResubscribeAsync(string username)
    {
        var delay = ResubscribeDelay;
        lock (_resubscribeDelays)
        {
            if (_resubscribeDelays.TryGetValue(username, out var last)) delay = TimeSpan.FromTicks(Math.Min(last.Ticks * 2, MaxResubscribeDelay.Ticks));
            _resubscribeDelays[username] = delay;
        }
        do await Task.Delay(delay, clock);
        while (!bus.IsHealthy && _users.ContainsKey(username));
        await SyncSubscriptionAsync(username);
        bool subscribed;
        lock (_subscribed) subscribed = _subscribed.Contains(username);
        if (!subscribed && _users.ContainsKey(username)) return;   // failed again: the next attempt waits longer
        lock (_resubscribeDelays) _resubscribeDelays.Remove(username);
        if (subscribed && _users.TryGetValue(username, out var user))
            foreach (var connection in user.Connections) connection.Wake();
    }

    private sealed record UserSockets(SocketDelivery[] Connections, TokenBucket Bucket)
    {
        public int Count => Connections.Length;
    }
}
