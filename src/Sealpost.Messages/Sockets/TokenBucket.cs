namespace Sealpost.Messages.Sockets;

/// <summary>A token bucket: <c>rate</c> tokens a second, holding at most <c>burst</c>.</summary>
internal sealed class TokenBucket(double rate, double burst, TimeProvider clock)
{
    private readonly Lock _gate = new();
    private readonly double _burst = burst;
    private double _tokens = burst;
    private long _last = clock.GetTimestamp();

    public bool TryTake() => TryTake(1);

    /// <summary>Takes <paramref name="count"/> tokens at once, or none.</summary>
    public bool TryTake(int count)
    {
        lock (_gate)
        {
            var now = clock.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + clock.GetElapsedTime(_last, now).TotalSeconds * rate);
            _last = now;
            if (_tokens < count) return false;
            _tokens -= count;
            return true;
        }
    }
}
