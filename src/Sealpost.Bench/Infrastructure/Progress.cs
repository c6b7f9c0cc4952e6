namespace Sealpost.Bench.Infrastructure;

/// <summary>Prints a status line to stderr once a second while a phase runs (stdout stays clean for <c>--json</c>).</summary>
public sealed class Progress : IDisposable
{
    private readonly Func<string> _line;
    private readonly Timer _timer;
    private readonly long _start = Clock.Now;
    private int _stopped;

    public Progress(Func<string> line, TimeSpan? every = null)
    {
        _line = line;
        var period = every ?? TimeSpan.FromSeconds(1);
        _timer = new Timer(_ => Print(), null, period, period);
    }

    public static bool Quiet { get; set; }

    private void Print()
    {
        if (Quiet || Volatile.Read(ref _stopped) == 1) return;
        Console.Error.WriteLine($"  [{Clock.SecondsSince(_start),5:0}s] {_line()}");
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        _timer.Dispose();
    }
}

/// <summary>
/// A client-side frame budget per user: the server allows each user a fixed number of frames a second (sends and
/// acks alike) and silently drops the rest, so a benchmark that floods measures the limiter, not the system.
/// A reservation bucket: a caller that finds it empty reserves the next token and waits for it.
/// </summary>
public sealed class Pacer(double perSecond, double burst)
{
    private readonly Lock _gate = new();
    private readonly double _burst = burst;
    private double _tokens = burst;
    private long _last = Clock.Now;
    private long _waitedTicks;

    /// <summary>Time spent waiting for the budget, summed over every caller.</summary>
    public long WaitedTicks => Interlocked.Read(ref _waitedTicks);

    public ValueTask WaitAsync(CancellationToken ct)
    {
        if (perSecond <= 0) return ValueTask.CompletedTask;
        double wait;
        lock (_gate)
        {
            var now = Clock.Now;
            _tokens = Math.Min(_burst, _tokens + Clock.Seconds(now - _last) * perSecond);
            _last = now;
            _tokens -= 1;
            if (_tokens >= 0) return ValueTask.CompletedTask;
            wait = -_tokens / perSecond;
        }
        Interlocked.Add(ref _waitedTicks, Clock.Ticks(TimeSpan.FromSeconds(wait)));
        return new ValueTask(Task.Delay(TimeSpan.FromSeconds(wait), ct));
    }
}
