using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Cluster;

namespace Sealpost.Messages.Delivery;

/// <summary>
/// The receiver's side of coming online: before a new socket of a device first reads its mailbox, every instance stores
/// at once what its <see cref="Relay"/> holds for the device (messages pushed to sockets that are gone, say) and says
/// when that is committed. Then the read finds every message older than what the socket will be offered live.
/// Instances that do not answer within <see cref="DeliveryOptions.RefusalPatience"/> and no longer run are not waited
/// for (they died, and what they held was never accepted).
/// </summary>
internal sealed partial class ClusterFlush(IClusterBus bus, Relay relay, IOptions<DeliveryOptions> options, TimeProvider clock, ILogger<ClusterFlush> logger)
{
    private const int MaxRounds = 10;
    private readonly ConcurrentDictionary<Guid, FlushWait> _waits = new();

    /// <summary>Returns once every instance (this one too) has stored what it held for <paramref name="device"/>, or given up on.</summary>
    public async Task FlushAsync(string device, CancellationToken ct)
    {
        var requestId = Guid.NewGuid();
        var wait = new FlushWait();
        _waits[requestId] = wait;
        try
        {
            long others;
            try
            {
                others = await bus.PublishToAllAsync(new FlushRequest(bus.InstanceId, requestId, device)).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                LogBusFailed(logger, e);
                others = 0;
            }
            wait.Expect(others);
            await relay.StoreHeldAsync(device).ConfigureAwait(false);
            // A slow instance is waited for; one that stopped listening (it died) is not.
            for (var round = 0; round < MaxRounds; round++)
            {
                try
                {
                    await wait.Done.WaitAsync(options.Value.RefusalPatience, clock, ct).ConfigureAwait(false);
                    return;
                }
                catch (TimeoutException)
                {
                    if (await LiveOthersAsync().ConfigureAwait(false) <= wait.Arrivals) return;
                }
            }
            LogUnanswered(logger, wait.Missing);
        }
        finally
        {
            _waits.TryRemove(requestId, out _);
        }
    }

    /// <summary>Another instance's new socket asks for a flush: store, then answer, whatever the store said.</summary>
    public void OnRequest(string device, Guid requester, Guid requestId) => _ = AnswerAsync(device, requester, requestId);

    /// <summary>An instance answered a flush this one asked for.</summary>
    public void OnFlushed(Guid requestId)
    {
        if (_waits.TryGetValue(requestId, out var wait)) wait.Arrived();
    }

    private async Task AnswerAsync(string device, Guid requester, Guid requestId)
    {
        try
        {
            await relay.StoreHeldAsync(device).ConfigureAwait(false);
        }
        finally
        {
            bus.PublishToInstance(requester, new Flushed(bus.InstanceId, requestId));
        }
    }

    private async Task<long> LiveOthersAsync()
    {
        try
        {
            return await bus.InstancesAsync().ConfigureAwait(false) - 1;
        }
        catch (Exception e)
        {
            LogBusFailed(logger, e);
            return 0;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Asking the other instances for a flush failed; going on without them")]
    private static partial void LogBusFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A flush for a new socket went unanswered by {Missing} live instances for ten rounds; going on without them")]
    private static partial void LogUnanswered(ILogger logger, long missing);

    /// <summary>Counts the answers to one flush request; how many to expect is known only once the question went out.</summary>
    private sealed class FlushWait
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _expected = -1;
        private long _arrived;

        public Task Done => _done.Task;

        public long Missing => Math.Max(0, Interlocked.Read(ref _expected) - Interlocked.Read(ref _arrived));

        public long Arrivals => Interlocked.Read(ref _arrived);

        public void Expect(long count)
        {
            Interlocked.Exchange(ref _expected, count);
            Check();
        }

        public void Arrived()
        {
            Interlocked.Increment(ref _arrived);
            Check();
        }

        private void Check()
        {
            var expected = Interlocked.Read(ref _expected);
            if (expected >= 0 && Interlocked.Read(ref _arrived) >= expected) _done.TrySetResult();
        }
    }
}
