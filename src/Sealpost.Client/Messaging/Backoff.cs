namespace Sealpost.Client.Messaging;

/// <summary>Exponential backoff with jitter, so clients cut off together (an instance going away) do not return together.</summary>
internal static class Backoff
{
    public static readonly TimeSpan Base = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan Cap = TimeSpan.FromSeconds(30);

    /// <summary>Half of min(cap, base·2^attempt) plus a random part of the other half ("equal jitter").</summary>
    public static TimeSpan Delay(int attempt, TimeSpan? @base = null, TimeSpan? cap = null)
    {
        var b = (@base ?? Base).TotalMilliseconds;
        var ceiling = Math.Min((cap ?? Cap).TotalMilliseconds, b * Math.Pow(2, Math.Clamp(attempt, 0, 30)));
        return TimeSpan.FromMilliseconds(ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2);
    }
}
