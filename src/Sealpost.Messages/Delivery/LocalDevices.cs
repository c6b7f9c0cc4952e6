using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Cluster;
using Sealpost.Protocol;

namespace Sealpost.Messages.Delivery;

/// <summary>
/// The device sessions open on this instance, by device, and the bus subscriptions that follow them: an instance
/// listens for a device exactly while it holds one of the device's sockets.
/// </summary>
internal sealed class LocalDevices(IClusterBus bus, IOptions<DeliveryOptions> options, TimeProvider clock)
{
    private static readonly TimeSpan ResubscribeDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxResubscribeDelay = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, DeviceSession[]> _devices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TimeSpan> _resubscribeDelays = new(StringComparer.Ordinal);
    // Sub/unsub of one device run one at a time; devices share 64 gates, so one slow bus call holds up few others.
    private readonly SemaphoreSlim[] _subscriptionGates = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly HashSet<string> _subscribed = new(StringComparer.Ordinal);
    // Sockets here per account, all its devices together: the cap is the account's, so more devices get no more sockets
    // (security review M2, decision 85).
    private readonly Dictionary<string, int> _perAccount = new(StringComparer.Ordinal);
    private readonly Lock _countGate = new();

    private Closing? _closingAll;

    /// <summary>
    /// Adds a session; false when its account (all its devices together) has <see cref="DeliveryOptions.MaxSocketsPerUser"/>
    /// sockets here already.
    /// </summary>
    public async Task<bool> AddAsync(DeviceSession session)
    {
        var account = Identity.DeviceAddress.Parse(session.Address).Username;
        lock (_countGate)
        {
            var open = _perAccount.GetValueOrDefault(account);
            if (open >= options.Value.MaxSocketsPerUser) return false;
            _perAccount[account] = open + 1;
        }
        _devices.AddOrUpdate(session.Address, _ => [session], (_, existing) => [.. existing, session]);
        // A socket that opens while the instance shuts down is closed like the others (CloseAll may have passed it by).
        if (Volatile.Read(ref _closingAll) is { } closing) session.Close(closing.Code, closing.Reason);
        await SyncSubscriptionAsync(session.Address);
        return true;
    }

    /// <summary>The instance is shutting down: every session here, and every one still opening, closes with this code.</summary>
    public void CloseAll(int code, string reason)
    {
        Volatile.Write(ref _closingAll, new Closing(code, reason));
        foreach (var session in All()) session.Close(code, reason);
    }

    public async Task RemoveAsync(DeviceSession session)
    {
        while (_devices.TryGetValue(session.Address, out var sessions))
        {
            if (!sessions.Contains(session)) return;
            DeviceSession[] rest = [.. sessions.Where(c => c != session)];
            var done = rest.Length == 0
                ? _devices.TryRemove(new KeyValuePair<string, DeviceSession[]>(session.Address, sessions))
                : _devices.TryUpdate(session.Address, rest, sessions);
            if (!done) continue;
            var account = Identity.DeviceAddress.Parse(session.Address).Username;
            lock (_countGate)
            {
                if (_perAccount[account] > 1) _perAccount[account]--;
                else _perAccount.Remove(account);
            }
            break;
        }
        await SyncSubscriptionAsync(session.Address);
    }

    /// <summary>
    /// Offers a live message to the device's sessions here (to come after <paramref name="after"/>, when not empty: see
    /// <see cref="Cluster.LiveOffer"/>): how many pushed it, and whether any refused it.
    /// </summary>
    public (int Pushed, bool Refused) Offer(string device, Guid messageId, Guid origin, byte[] frame, Guid after = default)
    {
        if (!_devices.TryGetValue(device, out var sessions)) return (0, false);
        var pushed = 0;
        var refused = false;
        foreach (var session in sessions)
        {
            switch (session.Offer(messageId, origin, frame, after))
            {
                case OfferDecision.Push: pushed++; break;
                case OfferDecision.Refuse: refused = true; break;
            }
        }
        return (pushed, refused);
    }

    /// <summary>A message for the device was committed to its mailbox.</summary>
    public void NotifyStored(string device, Guid messageId)
    {
        if (_devices.TryGetValue(device, out var sessions))
            foreach (var session in sessions) session.OnStored(messageId);
    }

    /// <summary>An ack on one socket deleted a mailbox message: the device's other sockets here stop waiting for its ack.</summary>
    public void NotifyAcked(string device, Guid messageId, DeviceSession except)
    {
        if (_devices.TryGetValue(device, out var sessions))
            foreach (var session in sessions)
                if (session != except) session.OnAckedElsewhere(messageId);
    }

    /// <summary>Sessions ended (logout, new password, key rotation, deleted account): their sockets here close with 4401.</summary>
    public void EndSessions(SessionsEnded ended)
    {
        // Every device of the user: a scan, but sessions end seldom (a logout, a new password, a removed device).
        foreach (var (device, sessions) in _devices)
        {
            if (!Identity.DeviceAddress.Belongs(device, ended.Username)) continue;
            foreach (var session in sessions)
            {
                if (ended.Covers(session.Session))
                    session.Close(CloseCodes.TokenExpired, "The session ended (logged out, new password, new key, device removed or account deleted); log in again.");
            }
        }
    }

    /// <summary>Every session rereads its mailbox (after the bus was away and announcements may have been lost).</summary>
    public void WakeAll()
    {
        foreach (var session in All()) session.Wake();
    }

    public IEnumerable<DeviceSession> All() => _devices.Values.SelectMany(s => s);

    public int SocketCount => _devices.Values.Sum(s => s.Length);

    // Runs sub/unsub one at a time and decides from the state at that moment, so a quick disconnect and
    // reconnect can never leave a connected device unsubscribed. Each bus call ends within the bus's own timeouts.
    private async Task SyncSubscriptionAsync(string device)
    {
        var gate = _subscriptionGates[(int)((uint)StringComparer.Ordinal.GetHashCode(device) % (uint)_subscriptionGates.Length)];
        await gate.WaitAsync();
        var failed = false;
        try
        {
            bool subscribe, unsubscribe;
            lock (_subscribed)
            {
                var wanted = _devices.ContainsKey(device);
                subscribe = wanted && _subscribed.Add(device);
                unsubscribe = !wanted && _subscribed.Remove(device);
            }
            if (subscribe && !await bus.SubscribeAsync(device))
            {
                lock (_subscribed) _subscribed.Remove(device);
                failed = true;
            }
            else if (unsubscribe) await bus.UnsubscribeAsync(device);
        }
        finally
        {
            gate.Release();
        }
        // Never fail a socket for the bus: it is subscribed again once the bus answers, and then reads what it may have missed.
        if (failed) _ = ResubscribeAsync(device);
    }

    // Waits for the bus to be back (no SUBSCRIBE storm while it is away), then tries again, backing off while it
    // keeps failing; SyncSubscriptionAsync starts the next attempt if this one fails too.
    private async Task ResubscribeAsync(string device)
    {
        var delay = ResubscribeDelay;
        lock (_resubscribeDelays)
        {
            if (_resubscribeDelays.TryGetValue(device, out var last)) delay = TimeSpan.FromTicks(Math.Min(last.Ticks * 2, MaxResubscribeDelay.Ticks));
            _resubscribeDelays[device] = delay;
        }
        do await Task.Delay(delay, clock);
        while (!bus.IsHealthy && _devices.ContainsKey(device));
        await SyncSubscriptionAsync(device);
        bool subscribed;
        lock (_subscribed) subscribed = _subscribed.Contains(device);
        if (!subscribed && _devices.ContainsKey(device)) return;   // failed again: the next attempt waits longer
        lock (_resubscribeDelays) _resubscribeDelays.Remove(device);
        if (subscribed && _devices.TryGetValue(device, out var sessions))
            foreach (var session in sessions) session.Wake();
    }

    private sealed record Closing(int Code, string Reason);
}
