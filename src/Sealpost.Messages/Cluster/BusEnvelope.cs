using System.Buffers.Binary;
using System.Text;

namespace Sealpost.Messages.Cluster;

/// <summary>
/// The bytes of a <see cref="BusMessage"/> on the wire between instances: kind (1 byte), the publishing instance (16),
/// a message or request id (16), then the frame (an offer; after the id it must follow, 16 bytes, for kind 8), the device (a flush request), or a 2-byte count of further
/// message ids, those ids (16 bytes each) and the device (answers). Kinds are unique across messages, so one decoder
/// serves every channel; anything it does not know decodes to null and is dropped.
/// </summary>
internal static class BusEnvelope
{
    private const byte OfferKind = 1;
    private const byte StoredKind = 2;
    private const byte FlushKind = 5;
    private const byte FlushedKind = 6;
    private const byte ReturnedKind = 7;
    private const byte OfferAfterKind = 8;   // an offer with the id it must come after (16 bytes) before the frame
    private const int HeaderBytes = 33;

    public static byte[] Encode(BusMessage message)
    {
        switch (message)
        {
            case LiveOffer { After: var after } offer when after == Guid.Empty:
            {
                var payload = Header(OfferKind, offer.From, offer.MessageId, offer.Frame.Length);
                offer.Frame.CopyTo(payload, HeaderBytes);
                return payload;
            }
            case LiveOffer offer:
            {
                var payload = Header(OfferAfterKind, offer.From, offer.MessageId, 16 + offer.Frame.Length);
                offer.After.TryWriteBytes(payload.AsSpan(HeaderBytes, 16));
                offer.Frame.CopyTo(payload, HeaderBytes + 16);
                return payload;
            }
            case StoredNotice stored:
                return Header(StoredKind, stored.From, stored.MessageId, 0);
            case Answers answers:
            {
                var ids = answers.MessageIds;
                var others = ids.Count - 1;
                var payload = Header((byte)answers.Answer, answers.From, ids[0], 2 + (others * 16) + Encoding.UTF8.GetByteCount(answers.Device));
                BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(HeaderBytes), (ushort)others);
                for (var i = 1; i <= others; i++) ids[i].TryWriteBytes(payload.AsSpan(HeaderBytes + 2 + ((i - 1) * 16), 16));
                Encoding.UTF8.GetBytes(answers.Device, payload.AsSpan(HeaderBytes + 2 + (others * 16)));
                return payload;
            }
            case FlushRequest flush:
            {
                var payload = Header(FlushKind, flush.From, flush.RequestId, Encoding.UTF8.GetByteCount(flush.Device));
                Encoding.UTF8.GetBytes(flush.Device, payload.AsSpan(HeaderBytes));
                return payload;
            }
            case Flushed flushed:
                return Header(FlushedKind, flushed.From, flushed.RequestId, 0);
            case BusReturned returned:
                return Header(ReturnedKind, returned.From, Guid.Empty, 0);
            default:
                throw new ArgumentException($"No bus encoding for {message.GetType().Name}", nameof(message));
        }
    }

    /// <summary>The message, or null when the bytes are not one this version knows.</summary>
    public static BusMessage? Decode(byte[]? payload)
    {
        if (payload is null || payload.Length < HeaderBytes) return null;
        var from = new Guid(payload.AsSpan(1, 16));
        var id = new Guid(payload.AsSpan(17, 16));
        switch (payload[0])
        {
            case OfferKind:
                return new LiveOffer(from, id, payload[HeaderBytes..]);
            case OfferAfterKind when payload.Length >= HeaderBytes + 16:
                return new LiveOffer(from, id, payload[(HeaderBytes + 16)..], new Guid(payload.AsSpan(HeaderBytes, 16)));
            case StoredKind:
                return new StoredNotice(from, id);
            case (byte)Answer.Acked or (byte)Answer.Refused when payload.Length > HeaderBytes + 2:
            {
                var others = BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(HeaderBytes));
                var device = HeaderBytes + 2 + (others * 16);
                if (payload.Length <= device) return null;
                var ids = new Guid[others + 1];
                ids[0] = id;
                for (var i = 0; i < others; i++) ids[i + 1] = new Guid(payload.AsSpan(HeaderBytes + 2 + (i * 16), 16));
                return new Answers(from, (Answer)payload[0], Encoding.UTF8.GetString(payload.AsSpan(device)), ids);
            }
            case FlushKind when payload.Length > HeaderBytes:
                return new FlushRequest(from, id, Encoding.UTF8.GetString(payload.AsSpan(HeaderBytes)));
            case FlushedKind:
                return new Flushed(from, id);
            case ReturnedKind:
                return new BusReturned(from);
            default:
                return null;
        }
    }

    private static byte[] Header(byte kind, Guid from, Guid id, int extra)
    {
        var payload = new byte[HeaderBytes + extra];
        payload[0] = kind;
        from.TryWriteBytes(payload.AsSpan(1, 16));
        id.TryWriteBytes(payload.AsSpan(17, 16));
        return payload;
    }
}
