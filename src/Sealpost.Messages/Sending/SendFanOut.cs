using Sealpost.Messages.Identity;
using Sealpost.Messages.Mailboxes;
using Sealpost.Protocol;

namespace Sealpost.Messages.Sending;

/// <summary>One checked send becomes one message per device: the recipient's devices, then copies to the sender's other devices.</summary>
internal static class SendFanOut
{
    public static List<NewMessage> Messages(ClientFrame frame, string to, string username, string senderAddress, TimeProvider clock)
    {
        var clientId = Guid.Parse(frame.Id!);
        var now = Now(clock);
        if (frame.Body is { } body) return [new NewMessage(MessageIds.Next(clock), senderAddress, clientId, to, body, now)];
        var messages = new List<NewMessage>(frame.Envelopes!.Count + (frame.Copies?.Count ?? 0));
        foreach (var e in frame.Envelopes) messages.Add(new NewMessage(MessageIds.Next(clock), senderAddress, clientId, DeviceAddress.Of(to, e.Device), e.Body, now));
        foreach (var c in frame.Copies ?? []) messages.Add(new NewMessage(MessageIds.Next(clock), senderAddress, clientId, DeviceAddress.Of(username, c.Device), c.Body, now));
        return messages;
    }

    // PostgreSQL keeps microseconds: a message pushed live shows the same sent_at as its stored copy.
    private static DateTimeOffset Now(TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        return now.AddTicks(-(now.UtcTicks % 10));
    }
}

/// <summary>
/// The copies of one send (one per device): answered once every copy is, with the first envelope's <c>accepted</c>,
/// or with an error if any copy failed (then the client sends again, and copies that got through are duplicates).
/// </summary>
internal sealed class SendUnit(Guid first, int copies)
{
    private readonly Lock _gate = new();
    private int _waiting = copies;
    private byte[]? _accepted;
    private byte[]? _error;

    /// <summary>The answer for the whole send once the last copy is answered; null before.</summary>
    public byte[]? Answered(Guid messageId, byte[] frame, bool accepted)
    {
        lock (_gate)
        {
            if (messageId == first && accepted) _accepted = frame;
            if (!accepted) _error ??= frame;
            return --_waiting == 0 ? _error ?? _accepted : null;
        }
    }
}
