using Sealpost.Messages.Cluster;

namespace Sealpost.Messages.Delivery;

/// <summary>Hands what the cluster bus brings to the part of delivery it is for.</summary>
internal sealed class BusDispatcher(Relay relay, LocalDevices devices, ClusterFlush flush) : IBusListener
{
    public void OnMessage(BusMessage message, string? device)
    {
        switch (message)
        {
            case LiveOffer offer when device is not null:
                relay.OnRemoteOffer(device, offer.MessageId, offer.From, offer.Frame, offer.After);
                break;
            case StoredNotice stored when device is not null:
                devices.NotifyStored(device, stored.MessageId);
                break;
            case Answers answers when device is null:
                foreach (var id in answers.MessageIds) relay.OnAnswer(answers.Answer, answers.Device, id);
                break;
            case FlushRequest request when device is null:
                flush.OnRequest(request.Device, request.From, request.RequestId);
                break;
            case Flushed flushed when device is null:
                flush.OnFlushed(flushed.RequestId);
                break;
            case BusReturned when device is null:
                // It was away: what it announced meanwhile was lost, so every socket here rereads.
                devices.WakeAll();
                break;
        }
    }
}
