using Microsoft.Extensions.Options;

namespace Sealpost.Messages.Sockets;

/// <summary>
/// The frame budget of each account with sockets here (<see cref="SocketOptions.FramesPerSecond"/>), shared by the sockets
/// of all its devices (more devices get no more frames: security review M2, decision 85) and remembered for a while after
/// the last one closes, so reconnecting does not refill it.
/// </summary>
internal sealed class FrameBudgets(IOptions<SocketOptions> options, TimeProvider clock)
{
    private static readonly TimeSpan Memory = TimeSpan.FromMinutes(1);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (TokenBucket Bucket, int Sockets)> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (TokenBucket Bucket, long LeftAt)> _left = new(StringComparer.Ordinal);

    /// <summary>The account's budget, for one more socket of it.</summary>
    public TokenBucket Take(string username)
    {
        lock (_gate)
        {
            if (_open.TryGetValue(username, out var open))
            {
                _open[username] = (open.Bucket, open.Sockets + 1);
                return open.Bucket;
            }
            var bucket = _left.Remove(username, out var left)
                ? left.Bucket
                : new TokenBucket(options.Value.FramesPerSecond, options.Value.FramesPerSecond * 2.0, clock);
            _open[username] = (bucket, 1);
            return bucket;
        }
    }

    /// <summary>One socket of the account closed.</summary>
    public void Return(string username)
    {
        lock (_gate)
        {
            if (!_open.TryGetValue(username, out var open)) return;
            if (open.Sockets > 1)
            {
                _open[username] = (open.Bucket, open.Sockets - 1);
                return;
            }
            _open.Remove(username);
            _left[username] = (open.Bucket, clock.GetTimestamp());
            if (_left.Count < 1024) return;
            foreach (var (name, kept) in _left.ToList())
                if (clock.GetElapsedTime(kept.LeftAt) > Memory) _left.Remove(name);
        }
    }
}
