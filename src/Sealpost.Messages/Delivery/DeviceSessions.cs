using Microsoft.Extensions.Options;
using Sealpost.Messages.Mailboxes;
using Sealpost.Messages.Monitoring;

namespace Sealpost.Messages.Delivery;

/// <summary>Opens and closes the delivery side of a device's socket (<see cref="DeviceSession"/>) on this instance.</summary>
internal sealed class DeviceSessions(
    LocalDevices devices, IMailboxStore store, Origins origins, ClusterFlush flush, IOptions<DeliveryOptions> options, TimeProvider clock,
    MessagesMetrics metrics, ILogger<DeviceSession> logger)
{
    /// <summary>How many sockets one device may hold on this instance (<see cref="DeliveryOptions.MaxSocketsPerUser"/>).</summary>
    public int MaxPerAccount => options.Value.MaxSocketsPerUser;

    /// <summary>
    /// A started session for <paramref name="address"/>, whose frames go to <paramref name="sink"/>; null when the device
    /// holds as many sockets here as it may.
    /// </summary>
    public async Task<DeviceSession?> OpenAsync(string address, Guid session, IFrameSink sink)
    {
        var opened = new DeviceSession(address, session, sink, store, origins, flush, options.Value, clock, metrics, logger);
        if (!await devices.AddAsync(opened)) return null;
        _ = opened.StartAsync();
        return opened;
    }

    /// <summary>The socket is gone: what it had in flight unacknowledged stays where it is (mailbox or origin).</summary>
    public async Task CloseAsync(DeviceSession session)
    {
        await devices.RemoveAsync(session);
        session.Stop();
    }
}
