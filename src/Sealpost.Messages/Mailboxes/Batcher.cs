using System.Threading.Channels;

namespace Sealpost.Messages.Mailboxes;

/// <summary>
/// Gathers items that arrive together into one batch for one database round trip (one commit for many sends),
/// with a few batches in flight at once. A caller awaits its own item's result.
/// </summary>
public sealed class Batcher<TItem, TResult> : IAsyncDisposable
{
    private readonly Channel<(TItem Item, TaskCompletionSource<TResult> Done)> _queue =
        Channel.CreateUnbounded<(TItem, TaskCompletionSource<TResult>)>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, Task<TResult[]>> _write;
    private readonly int _maxBatch;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _loops;

    public Batcher(Func<IReadOnlyList<TItem>, CancellationToken, Task<TResult[]>> write, int maxBatch, int concurrency)
    {
        _write = write;
        _maxBatch = maxBatch;
        _loops = Enumerable.Range(0, concurrency).Select(_ => Task.Run(LoopAsync)).ToArray();
    }

    public Task<TResult> EnqueueAsync(TItem item, CancellationToken ct)
    {
        var done = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((item, done))) done.SetException(new ObjectDisposedException(nameof(Batcher<TItem, TResult>)));
        // The caller may stop waiting; the write itself goes on, so what was queued is never half-done.
        return done.Task.WaitAsync(ct);
    }

    private async Task LoopAsync()
    {
        var batch = new List<(TItem Item, TaskCompletionSource<TResult> Done)>(_maxBatch);
        var items = new List<TItem>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            items.Clear();
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var entry))
            {
                batch.Add(entry);
                items.Add(entry.Item);
            }
            if (batch.Count == 0) continue;
            try
            {
                var results = await _write(items, _stopping.Token).ConfigureAwait(false);
                for (var i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(results[i]);
            }
            catch (Exception e)
            {
                foreach (var entry in batch) entry.Done.TrySetException(e);
            }
        }
    }

    /// <summary>Finishes what is queued, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_loops).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
