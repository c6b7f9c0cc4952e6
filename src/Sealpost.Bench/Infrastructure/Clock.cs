using System.Diagnostics;

namespace Sealpost.Bench.Infrastructure;

/// <summary>Monotonic timestamps (<see cref="Stopwatch"/> ticks) and conversions.</summary>
public static class Clock
{
    public static long Now => Stopwatch.GetTimestamp();

    public static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    public static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;

    public static double SecondsSince(long start) => Seconds(Now - start);
}
