using System.Collections.Concurrent;
using System.Net.WebSockets;
using Sealpost.Protocol;

namespace Sealpost.Testing;

/// <summary>
/// A <see cref="ProtocolClient"/>'s acks when the caller lets them pile up: those queued while one frame is being
/// written go out together in the next (<c>message_ids</c>, up to <see cref="Limits.AckIdsMax"/>), as a client that
/// stores messages in batches would send them. Built from bytes into one buffer, so an ack costs no allocation.
/// </summary>
internal sealed class AckCoalescer(WebSocket socket, SemaphoreSlim writeLock)
{
    private const int IdChars = 36;
    private static readonly byte[] Prefix = """{"type":"ack","message_ids":["""u8.ToArray();
    private readonly ConcurrentQueue<Guid> _acks = new();
    private int _acking;

    // Touched only by the caller that holds _acking; made on the first ack, as a test's client never needs it.
    private byte[]? _buffer;

    public async ValueTask AckAsync(Guid messageId, CancellationToken ct)
    {
        _acks.Enqueue(messageId);
        if (Interlocked.CompareExchange(ref _acking, 1, 0) != 0) return;
        try
        {
            while (!_acks.IsEmpty)
            {
                var length = WriteAcks();
                if (length == 0) continue;
                // The lock and the send are here, not behind a helper, so an ack is one state machine, not two.
                await writeLock.WaitAsync(ct);
                try
                {
                    await socket.SendAsync(_buffer.AsMemory(0, length), WebSocketMessageType.Text, true, ct);
                }
                finally
                {
                    writeLock.Release();
                }
            }
        }
        finally
        {
            Volatile.Write(ref _acking, 0);
        }
        // An ack queued just as the loop above ended is sent by this call or by the next one.
        if (!_acks.IsEmpty) await AckAsync(Guid.Empty, ct);
    }

    private int WriteAcks()
    {
        // Each id is 36 characters, two quotes and a comma; then "]}".
        var buffer = _buffer ??= new byte[Prefix.Length + (Limits.AckIdsMax * (IdChars + 3)) + 2];
        Prefix.CopyTo(buffer, 0);
        var at = Prefix.Length;
        var count = 0;
        while (count < Limits.AckIdsMax && _acks.TryDequeue(out var id))
        {
            if (id == Guid.Empty) continue;
            if (count++ > 0) buffer[at++] = (byte)',';
            buffer[at++] = (byte)'"';
            id.TryFormat(buffer.AsSpan(at, IdChars), out _);
            at += IdChars;
            buffer[at++] = (byte)'"';
        }
        if (count == 0) return 0;
        buffer[at++] = (byte)']';
        buffer[at++] = (byte)'}';
        return at;
    }
}
