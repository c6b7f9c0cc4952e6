using System.Collections.Concurrent;
using Sealpost.Messages.Delivery;
using Sealpost.Messages.Mailboxes;

namespace Sealpost.Messages.Sending;

/// <summary>
/// One socket's sends: its place in the relay (<see cref="SenderLane"/>), the copies of each send answered as one, and
/// at most <c>Sockets:MaxPendingSends</c> sends unanswered (the socket reads no further frames until one is answered).
/// </summary>
internal sealed class Sender : ISendReplies
{
    private readonly IFrameSink _sink;
    private readonly SemaphoreSlim _pending;
    private readonly ConcurrentDictionary<Guid, SendUnit> _units = new();

    public Sender(string username, int device, string address, IFrameSink sink, int maxPendingSends)
    {
        Username = username;
        Device = device;
        Address = address;
        _sink = sink;
        _pending = new SemaphoreSlim(maxPendingSends, maxPendingSends);
        Lane = new SenderLane(Random.Shared.Next(), this);
    }

    public string Username { get; }

    public int Device { get; }

    /// <summary>The sending device's address: the sender of what it sends.</summary>
    public string Address { get; }

    public SenderLane Lane { get; }

    /// <summary>Waits for room for one more unanswered send.</summary>
    public Task WaitForRoomAsync(CancellationToken ct) => _pending.WaitAsync(ct);

    /// <summary>The messages of one send, to be answered as one.</summary>
    public void Expect(IReadOnlyList<NewMessage> copies)
    {
        if (copies.Count < 2) return;
        var unit = new SendUnit(copies[0].Id, copies.Count);
        foreach (var m in copies) _units[m.Id] = unit;
    }

    /// <summary>Answers the client directly (a refusal before the relay).</summary>
    public void Reply(byte[] frame) => _sink.Emit(frame);

    public void Answered(NewMessage message, byte[] frame, bool accepted)
    {
        if (_units.TryRemove(message.Id, out var unit))
        {
            if (unit.Answered(message.Id, frame, accepted) is not { } whole) return;
            frame = whole;
        }
        _pending.Release();
        _sink.Emit(frame);
    }
}
