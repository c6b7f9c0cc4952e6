using System.Diagnostics;
using Microsoft.Extensions.Options;
using Sealpost.Users.Monitoring;

namespace Sealpost.Users.Passwords;

/// <summary>
/// Bounds concurrent Argon2id work to a few slots (about one per core) with a short queue; a request that finds the
/// queue full, or waits too long, gets <see cref="PasswordWorkBusyException"/> (answered 503 with Retry-After) instead
/// of piling up behind the flood.
/// </summary>
public sealed class PasswordWork(IOptions<PasswordWorkOptions> options) : IDisposable
{
    private readonly PasswordWorkOptions _options = options.Value;
    private readonly SemaphoreSlim _slots = new(options.Value.Slots, options.Value.Slots);
    private int _admitted;

    /// <summary>Hashes running now.</summary>
    public int Running => _options.Slots - _slots.CurrentCount;

    /// <summary>Requests waiting for a slot.</summary>
    public int Queued => Math.Max(0, Volatile.Read(ref _admitted) - Running);

    public async Task<T> RunAsync<T>(Func<T> work, CancellationToken ct)
    {
        if (Interlocked.Increment(ref _admitted) > _options.Slots + _options.MaxQueued)
        {
            Interlocked.Decrement(ref _admitted);
            UsersMetrics.Busy.Add(1, UsersMetrics.QueueFull);
            throw new PasswordWorkBusyException();
        }
        try
        {
            if (!await _slots.WaitAsync(_options.MaxWait, ct))
            {
                UsersMetrics.Busy.Add(1, UsersMetrics.WaitedTooLong);
                throw new PasswordWorkBusyException();
            }
            var started = Stopwatch.GetTimestamp();
            try
            {
                return work();
            }
            finally
            {
                UsersMetrics.HashDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
                _slots.Release();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _admitted);
        }
    }

    public void Dispose() => _slots.Dispose();
}
