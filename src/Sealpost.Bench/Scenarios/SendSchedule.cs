using Sealpost.Bench.Infrastructure;

namespace Sealpost.Bench.Scenarios;

/// <summary>
/// When one sender of a relay sends next: as soon as one of its in-flight slots is free (closed loop), or on a fixed
/// schedule as well (open loop: the total rate shared by every sender, their schedules spread over one interval).
/// </summary>
public sealed class SendSchedule
{
    private readonly long _interval;
    private long _next;

    /// <param name="totalRate">Messages a second of all senders together; 0 for the closed loop.</param>
    /// <param name="index">This sender's place among the others, which sets its offset in the interval.</param>
    /// <param name="senders">How many senders share the rate.</param>
    /// <param name="start">When the schedules start (<see cref="Clock.Now"/>).</param>
    public SendSchedule(double totalRate, int index, int senders, long start)
    {
        _interval = totalRate > 0 ? Clock.Ticks(TimeSpan.FromSeconds(senders / totalRate)) : 0;
        _next = start + _interval * index / senders;
    }

    /// <summary>
    /// Waits for the next send's turn and a free slot (and the client's frame budget, when there is one); returns the
    /// time the send counts from, or null once <paramref name="stop"/> fires. In the open loop that is when it was due,
    /// so a client that falls behind shows it in the latency.
    /// </summary>
    public async ValueTask<long?> NextAsync(SemaphoreSlim slots, Pacer? budget, CancellationToken stop)
    {
        try
        {
            if (_interval > 0)
            {
                var wait = _next - Clock.Now;
                if (wait > 0) await Task.Delay(TimeSpan.FromSeconds(Clock.Seconds(wait)), stop);
            }
            await slots.WaitAsync(stop);
            try
            {
                if (budget is not null) await budget.WaitAsync(stop);
            }
            catch (OperationCanceledException)
            {
                slots.Release();
                throw;
            }
            var sentAt = _interval > 0 ? _next : Clock.Now;
            _next += _interval;
            return sentAt;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
