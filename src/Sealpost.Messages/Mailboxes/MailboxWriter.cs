using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Monitoring;

namespace Sealpost.Messages.Mailboxes;

/// <summary>
/// Batches mailbox writes: what arrives together goes to the store in one round trip and one commit. Stores run in
/// a few lanes, each one batch at a time and in arrival order, and a caller names its lane: so one sender's messages
/// commit in the order they were sent, and their completions run in that order too, which the delivery core relies
/// on. Deletes (acks) have a lane of their own; their order does not matter.
/// </summary>
internal sealed partial class MailboxWriter : IAsyncDisposable
{
    private readonly IMailboxStore _store;
    private readonly MessagesMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Lane<(NewMessage Message, Action<AcceptResult?> Done)>[] _stores;
    private readonly Lane<(string Recipient, Guid Id)> _deletes;

    public MailboxWriter(IMailboxStore store, IOptions<MailboxOptions> options, MessagesMetrics metrics, ILogger<MailboxWriter> logger)
    {
        _store = store;
        _metrics = metrics;
        _logger = logger;
        var maxBatch = options.Value.WriteBatchSize;
        _stores = [.. Enumerable.Range(0, options.Value.WriteLanes).Select(_ => new Lane<(NewMessage, Action<AcceptResult?>)>(WriteAsync, maxBatch))];
        _deletes = new Lane<(string, Guid)>(DeleteAsync, maxBatch);
    }

    public int Lanes => _stores.Length;

    /// <summary>Sends waiting for a store batch, over every lane.</summary>
    public int QueuedStores => _stores.Sum(l => l.Queued);

    /// <summary>Acks waiting for a delete batch.</summary>
    public int QueuedDeletes => _deletes.Queued;

    /// <summary>
    /// Queues a message for storing in <paramref name="lane"/>. <paramref name="done"/> runs on the lane's loop, after
    /// the commit and after the completions of everything queued before it in that lane, with the result, or null
    /// when the store failed (nothing was stored). It must not block.
    /// </summary>
    public void Store(int lane, NewMessage message, Action<AcceptResult?> done) => _stores[lane % _stores.Length].Add((message, done));

    /// <summary>Queues the deletion of an acknowledged message. A failure is logged; the message then comes again.</summary>
    public void Delete(string recipient, Guid id) => _deletes.Add((recipient, id));

    private async Task WriteAsync(List<(NewMessage Message, Action<AcceptResult?> Done)> batch, CancellationToken ct)
    {
        AcceptResult[]? results = null;
        var started = Stopwatch.GetTimestamp();
        try
        {
            results = await _store.StoreAsync([.. batch.Select(b => b.Message)], ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogWriteFailed(_logger, e, batch.Count);
            _metrics.WriteFailures.Add(1, MessagesMetrics.StoreOp);
        }
        _metrics.WriteDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, MessagesMetrics.StoreOp);
        _metrics.WriteBatch.Record(batch.Count, MessagesMetrics.StoreOp);
        for (var i = 0; i < batch.Count; i++) batch[i].Done(results?[i]);
    }

    private async Task DeleteAsync(List<(string Recipient, Guid Id)> batch, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await _store.DeleteAsync(batch, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogDeleteFailed(_logger, e, batch.Count);
            _metrics.WriteFailures.Add(1, MessagesMetrics.DeleteOp);
        }
        _metrics.WriteDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, MessagesMetrics.DeleteOp);
        _metrics.WriteBatch.Record(batch.Count, MessagesMetrics.DeleteOp);
    }

    /// <summary>Finishes what is queued, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll([.. _stores.Select(l => l.DisposeAsync().AsTask()), _deletes.DisposeAsync().AsTask()]).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing {Count} messages failed; their senders are told to send again")]
    private static partial void LogWriteFailed(ILogger logger, Exception e, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Deleting {Count} acknowledged messages failed; they will be delivered again")]
    private static partial void LogDeleteFailed(ILogger logger, Exception e, int count);

    /// <summary>One queue and one loop: batches go out one at a time, in arrival order.</summary>
    private sealed class Lane<T> : IAsyncDisposable
    {
        private readonly Channel<T> _queue = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Func<List<T>, CancellationToken, Task> _write;
        private readonly CancellationTokenSource _stopping = new();
        private readonly Task _loop;
        private readonly int _maxBatch;

        public Lane(Func<List<T>, CancellationToken, Task> write, int maxBatch)
        {
            _write = write;
            _maxBatch = maxBatch;
            _loop = Task.Run(LoopAsync);
        }

        private int _queued;

        // Counted here: a single-reader channel cannot count its items.
        public int Queued => Volatile.Read(ref _queued);

        public void Add(T item)
        {
            Interlocked.Increment(ref _queued);
            if (_queue.Writer.TryWrite(item)) return;
            Interlocked.Decrement(ref _queued);
            throw new ObjectDisposedException(nameof(MailboxWriter));
        }

        private async Task LoopAsync()
        {
            var batch = new List<T>(_maxBatch);
            while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var item)) batch.Add(item);
                Interlocked.Add(ref _queued, -batch.Count);
                if (batch.Count > 0) await _write(batch, _stopping.Token).ConfigureAwait(false);
            }
        }

        public async ValueTask DisposeAsync()
        {
            _queue.Writer.TryComplete();
            await _loop.ConfigureAwait(false);
            _stopping.Dispose();
        }
    }
}
