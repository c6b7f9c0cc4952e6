using System.Collections.Concurrent;
using Sealpost.Bench.Infrastructure;

namespace Sealpost.Bench.Scenarios;

/// <summary>
/// What the receive loops of a relay run (<c>relay</c>, <c>xmpp-relay</c>) count together, the settling before it
/// (mail left by an earlier run is acked, not counted), and the checks on those counts.
/// </summary>
public sealed class RelayTally
{
    private long _delivered;
    private long _stale;
    private long _unexpected;
    private long _badBodies;
    private long _lastFrameAt = Clock.Now;
    private volatile bool _settling = true;
    private volatile bool _closing;

    public ConcurrentDictionary<string, long> Errors { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, long> Disconnects { get; } = new(StringComparer.Ordinal);

    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>True until <see cref="SettleAsync"/> returns: a message now is left over from an earlier run.</summary>
    public bool Settling => _settling;

    public void OnFrame(long at) => Volatile.Write(ref _lastFrameAt, at);

    public void OnDelivered() => Interlocked.Increment(ref _delivered);

    public void OnStale() => Interlocked.Increment(ref _stale);

    public void OnUnexpectedSender() => Interlocked.Increment(ref _unexpected);

    public void OnBadBody() => Interlocked.Increment(ref _badBodies);

    public void OnError(string kind) => Errors.AddOrUpdate(kind, 1, (_, n) => n + 1);

    /// <summary>A receive loop ended: a drop by the server unless the run is closing its sockets.</summary>
    public void OnLoopEnded(string closeStatus)
    {
        if (!_closing) Disconnects.AddOrUpdate(closeStatus.Trim(), 1, (_, n) => n + 1);
    }

    /// <summary>Waits until the sockets have been quiet for a second (15 s at most); from then on messages count.</summary>
    public async Task SettleAsync(CancellationToken ct)
    {
        var start = Clock.Now;
        while (Clock.SecondsSince(Volatile.Read(ref _lastFrameAt)) < 1.0 && Clock.SecondsSince(start) < 15) await Task.Delay(100, ct);
        _settling = false;
    }

    /// <summary>
    /// Opens the measured window on every direction: from <paramref name="warmup"/> after now until <paramref name="duration"/>
    /// after now. Returns now (when the senders start) and the window's end.
    /// </summary>
    public static (long Start, long WindowEnd) StartWindow(IReadOnlyList<Direction> directions, TimeSpan warmup, TimeSpan duration)
    {
        var start = Clock.Now;
        var (windowStart, windowEnd) = (start + Clock.Ticks(warmup), start + Clock.Ticks(duration));
        foreach (var d in directions) (d.WindowStart, d.WindowEnd) = (windowStart, windowEnd);
        return (start, windowEnd);
    }

    /// <summary>A line a second while the senders run: delivered per second, in flight, errors.</summary>
    public Progress ShowProgress(IReadOnlyList<Direction> directions)
    {
        long last = 0;
        return new Progress(() =>
        {
            var now = Delivered;
            var line = $"delivered {now - last,8:N0}/s  total {now:N0}  in flight {directions.Sum(d => d.AwaitingAnswer + d.AwaitingDelivery):N0}  errors {Errors.Values.Sum():N0}";
            last = now;
            return line;
        });
    }

    /// <summary>
    /// What was sent must arrive: after the sends stop, waits for the last deliveries (and answers) until
    /// <paramref name="grace"/> ends or a socket drops. Returns the seconds it waited.
    /// </summary>
    public static async Task<double> AwaitSettledAsync(IReadOnlyList<Direction> directions, TimeSpan grace, Func<bool> anyDropped, CancellationToken ct)
    {
        var start = Clock.Now;
        while (!directions.All(d => d.Settled) && Clock.SecondsSince(start) < grace.TotalSeconds && !anyDropped()) await Task.Delay(50, ct);
        return Clock.SecondsSince(start);
    }

    /// <summary>The run closes its sockets now: loops that end are not drops.</summary>
    public void Closing() => _closing = true;

    public Report.Section AddTo(Report.Section accounting, string errorsLabel) => accounting
        .Figure("stale", "left over from earlier runs (acked, not counted)", Interlocked.Read(ref _stale), "")
        .Counts("errors", errorsLabel, Errors)
        .Counts("disconnects", "sockets closed by the server", Disconnects);

    public void Check(Report report, string badBody)
    {
        if (Interlocked.Read(ref _badBodies) > 0) report.Fail($"{_badBodies:N0} delivered bodies were not what was sent{badBody}.");
        if (Interlocked.Read(ref _unexpected) > 0) report.Fail($"{_unexpected:N0} messages came from a sender other than the recipient's partner.");
        if (!Disconnects.IsEmpty) report.Fail($"the server closed {Disconnects.Values.Sum():N0} sockets during the run ({string.Join(", ", Disconnects.Keys)}).");
    }
}
