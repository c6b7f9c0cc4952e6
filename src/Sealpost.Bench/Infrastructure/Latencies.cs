namespace Sealpost.Bench.Infrastructure;

/// <summary>
/// Latency samples in microseconds, kept whole (a few million ints at most) so percentiles are exact rather than
/// bucketed. Not thread-safe: each worker keeps its own and they are merged at the end.
/// </summary>
public sealed class Latencies
{
    private int[] _samples = new int[1024];

    public int Count { get; private set; }

    public void Add(long elapsedTicks)
    {
        var micros = elapsedTicks * 1_000_000 / System.Diagnostics.Stopwatch.Frequency;
        if (Count == _samples.Length) Array.Resize(ref _samples, _samples.Length * 2);
        _samples[Count++] = (int)Math.Min(int.MaxValue, Math.Max(0, micros));
    }

    public static Summary Summarize(IEnumerable<Latencies> parts)
    {
        var all = new List<int>();
        foreach (var part in parts) all.AddRange(part._samples.AsSpan(0, part.Count));
        if (all.Count == 0) return new Summary(0, 0, 0, 0, 0, 0, 0);
        all.Sort();
        double At(double q) => all[(int)Math.Min(all.Count - 1, Math.Ceiling(q * all.Count) - 1)] / 1000.0;
        return new Summary(all.Count, all.Average() / 1000.0, At(0.50), At(0.95), At(0.99), At(0.999), all[^1] / 1000.0);
    }

    /// <summary>Milliseconds.</summary>
    public readonly record struct Summary(long Count, double Mean, double P50, double P95, double P99, double P999, double Max);
}
