using Microsoft.Extensions.Options;

namespace Sealpost.Messages.Sockets;

/// <summary>
/// The frame budget of each device with sockets here (<see cref="SocketOptions.FramesPerSecond"/>), shared by its
/// sockets and remembered for a while after the last one closes, so reconnecting does not refill it.
/// </summary>
internal sealed class FrameBudgets(IOptions<SocketOptions> options, TimeProvider clock)
{
    private static readonly TimeSpan Memory = TimeSpan.FromMinutes(1);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (TokenBucket Bucket, int Sockets)> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (TokenBucket Bucket, long LeftAt)> _left = new(StringComparer.Ordinal);

    /// <summary>The device's budget, for one more socket of it.</summary>
    public TokenBucket Take(string device)
    {
        lock (_gate)
        {
            if (_open.TryGetValue(device, out var open))
            {
                _open[device] = (open.Bucket, open.Sockets + 1);
                return open.Bucket;
            }
            var bucket = _left.Remove(device, out var left)
                ? left.Bucket
                : new TokenBucket(options.Value.FramesPerSecond, options.Value.FramesPerSecond * 2.0, clock);
            _open[device] = (bucket, 1);
            return bucket;
        }
    }

    /// <summary>One socket of the device closed.</summary>
    public void Return(string device)
    {
        lock (_gate)
        {
            if (!_open.TryGetValue(device, out var open)) return;
            if (open.Sockets > 1)
            {
                _open[device] = (open.Bucket, open.Sockets - 1);
                return;
            }
            _open.Remove(device);
            _left[device] = (open.Bucket, clock.GetTimestamp());
            if (_left.Count < 1024) return;
            foreach (var (name, kept) in _left.ToList())
                if (clock.GetElapsedTime(kept.LeftAt) > Memory) _left.Remove(name);
        }
    }
}
