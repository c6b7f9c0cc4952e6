using Sealpost.Messages.Cluster;
using Sealpost.Messages.Mailboxes;
using Sealpost.Protocol;

namespace Sealpost.Messages.Delivery;

/// <summary>
/// Tells the origin of each message a device session took what became of it: a message read from the mailbox (origin
/// <see cref="DeliveryState.FromStore"/>) is deleted and the device's other sockets here stop waiting for it; a live one
/// is answered to the <see cref="Relay"/> that holds it, here or, over the bus, on another instance.
/// </summary>
internal sealed class Origins(Relay relay, IClusterBus bus, MailboxWriter writer, LocalDevices devices)
{
    /// <summary>A socket of <paramref name="session"/>'s device acknowledged these messages (id, origin).</summary>
    public void Acked(DeviceSession session, IReadOnlyList<(Guid Id, Guid Origin)> acked)
    {
        Dictionary<Guid, List<Guid>>? remote = null;
        foreach (var (id, origin) in acked)
        {
            if (origin == DeliveryState.FromStore)
            {
                writer.Delete(session.Address, id);
                devices.NotifyAcked(session.Address, id, session);
            }
            else if (origin == bus.InstanceId) relay.OnAnswer(Answer.Acked, session.Address, id);
            else
            {
                remote ??= [];
                if (!remote.TryGetValue(origin, out var list)) remote[origin] = list = [];
                list.Add(id);
            }
        }
        // One bus message per origin for the acks of one frame.
        if (remote is null) return;
        foreach (var (origin, ids) in remote) bus.PublishToInstance(origin, new Answers(bus.InstanceId, Answer.Acked, session.Address, ids));
    }

    /// <summary>A read found messages the socket had acknowledged already (their delete was still on its way): delete them again.</summary>
    public void AckedAgain(string device, IReadOnlyList<Guid> ids)
    {
        foreach (var id in ids) writer.Delete(device, id);
    }

    /// <summary>
    /// Asks again the origins of refused messages of <paramref name="device"/> to store them (a refusal is idempotent: an
    /// origin stores the message if it still holds it, else announces it again). Returns the origins that no longer run.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> RefuseAgainAsync(string device, IReadOnlyCollection<IGrouping<Guid, Guid>> overdue)
    {
        List<Guid>? dead = null;
        foreach (var refused in overdue)
        {
            var origin = refused.Key;
            if (origin == bus.InstanceId)
            {
                foreach (var id in refused) relay.OnAnswer(Answer.Refused, device, id);
            }
            else if (await bus.IsAliveAsync(origin).ConfigureAwait(false))
            {
                foreach (var chunk in refused.Chunk(Limits.AckIdsMax)) bus.PublishToInstance(origin, new Answers(bus.InstanceId, Answer.Refused, device, chunk));
            }
            else (dead ??= []).Add(origin);
        }
        return dead ?? [];
    }
}
