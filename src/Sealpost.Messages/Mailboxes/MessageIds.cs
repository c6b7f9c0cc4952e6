using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Sealpost.Messages.Mailboxes;

/// <summary>
/// UUIDv7 message ids that only go up within this process (RFC 9562 §6.2 method 1: a 12-bit counter within the
/// millisecond). Assigned as frames are read, so one socket's messages sort in the order they were sent, however
/// their writes are batched. The 62 random bits come from the system's cryptographic generator, read a few kilobytes
/// at a time per thread (one call into OpenSSL per 512 ids rather than one per id).
/// </summary>
internal static class MessageIds
{
    private static readonly Lock Gate = new();
    private static long _lastMs;
    private static int _counter;

    private const int RandomBytesPerRead = 4096;

    [ThreadStatic]
    private static byte[]? _random;

    [ThreadStatic]
    private static int _randomUsed;

    public static Guid Next(TimeProvider clock)
    {
        var ms = clock.GetUtcNow().ToUnixTimeMilliseconds();
        int counter;
        lock (Gate)
        {
            if (ms <= _lastMs)
            {
                ms = _lastMs;
                if (++_counter > 0xFFF)
                {
                    ms++;
                    _counter = 0;
                }
            }
            else
            {
                _counter = 0;
            }
            _lastMs = ms;
            counter = _counter;
        }
        Span<byte> bytes = stackalloc byte[16];
        RandomBytes(8).CopyTo(bytes[8..]);
        BinaryPrimitives.WriteInt64BigEndian(bytes, ms << 16);
        bytes[6] = (byte)(0x70 | (counter >> 8));
        bytes[7] = (byte)counter;
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }

    private static ReadOnlySpan<byte> RandomBytes(int count)
    {
        var random = _random ??= new byte[RandomBytesPerRead];
        if (_randomUsed == 0 || _randomUsed + count > random.Length)
        {
            RandomNumberGenerator.Fill(random);
            _randomUsed = 0;
        }
        var taken = random.AsSpan(_randomUsed, count);
        _randomUsed += count;
        return taken;
    }
}
