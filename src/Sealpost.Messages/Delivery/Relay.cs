using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Mailboxes;
using Sealpost.Messages.Monitoring;
using Sealpost.Messages.Sockets;
using Sealpost.Protocol;

namespace Sealpost.Messages.Delivery;

/// <summary>
/// The origin side of delivery: deliver first, write second. A valid <c>send</c> is offered at once to the recipient's
/// sockets, here and (over the bus) on other instances, and held here for <see cref="SocketOptions.AckGrace"/>. If a
/// recipient device acknowledges it in that time, it is never written: <c>accepted</c> goes to the sender at once. If
/// not, or if a socket refused it, or nobody holds a socket of the recipient, it is written to the mailbox and
/// <c>accepted</c> follows the commit. Either way the sender hears <c>accepted</c> only once the message survives the
/// loss of any one process.
///
/// Order per (sender socket, recipient): each such pair is a queue worked one message at a time, up to the moment its
/// path is chosen; while any of its messages is being stored, later ones are stored behind it (one lane, in order)
/// rather than offered live, so a live message never overtakes an older one still on its way to the mailbox.
/// </summary>
public sealed partial class Relay : IAsyncDisposable
{
    private static readonly TimeSpan GraceTick = TimeSpan.FromMilliseconds(5);
    private const int MaxFlushRounds = 10;
    private readonly ConcurrentDictionary<Guid, Pending> _pending = new();
    private readonly Channel<Pending> _held = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConnectionRegistry _registry;
    private readonly IDeliveryBus _bus;
    private readonly MailboxWriter _writer;
    private readonly TimeSpan _grace;
    private readonly TimeSpan _patience;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _graceLoop;

    public Relay(ConnectionRegistry registry, IDeliveryBus bus, MailboxWriter writer, IOptions<SocketOptions> options, TimeProvider clock, ILogger<Relay> logger)
    {
        _registry = registry;
        _bus = bus;
        _writer = writer;
        _grace = options.Value.AckGrace;
        _patience = options.Value.RefusalPatience;
        _clock = clock;
        _logger = logger;
        _graceLoop = Task.Run(GraceLoopAsync);
    }

    private readonly ConcurrentDictionary<Guid, FlushWait> _flushes = new();

    /// <summary>Messages held here, waiting for an ack or their write.</summary>
    public int PendingCount => _pending.Count;

    /// <summary>Takes a valid message from a sender socket; the answer goes to <see cref="Outbound.Answer"/>. Call in send order.</summary>
    public void Submit(Outbound sender, NewMessage message)
    {
        var pending = new Pending(message, sender);
        var queue = sender.QueueFor(message.Recipient);
        bool start;
        lock (queue)
        {
            queue.Waiting.Enqueue(pending);
            start = !queue.Running;
            queue.Running = true;
        }
        if (start) _ = RunQueueAsync(queue);
    }

    /// <summary>An answer about a message this instance holds, from one of its own sockets or over the bus.</summary>
    public void OnAnswer(Answer answer, string recipient, Guid messageId)
    {
        if (!_pending.TryGetValue(messageId, out var pending) || pending.Message.Recipient != recipient)
        {
            // Resolved already. An ack then means the row may exist (it was stored before the ack came): delete it.
            // A refusal means a socket waits for news of a message that was acked elsewhere: tell it there is none.
            if (answer == Answer.Acked) _writer.Delete(recipient, messageId);
            else AnnounceStored(recipient, messageId);
            return;
        }
        if (answer == Answer.Acked)
        {
            if (pending.TryMove(Pending.Held, Pending.Done))
            {
                _pending.TryRemove(messageId, out _);
                pending.Resolved.TrySetResult();
                MessagesMetrics.Accepted.Add(1, MessagesMetrics.AckedBeforeWrite);
                pending.Sender.Answer(pending.Message, FrameCodec.Accepted(pending.ClientIdText, messageId, pending.Message.SentAt), accepted: true);
            }
            else pending.AckedWhileStoring = true;
        }
        else StoreNow(pending);
    }

    /// <summary>A live message offered over the bus by another instance, for sockets here.</summary>
    public void OnRemoteOffer(string recipient, Guid messageId, Guid origin, byte[] frame)
    {
        var (pushed, refused) = _registry.Offer(recipient, messageId, origin, frame);
        if (refused) _bus.Tell(origin, Answer.Refused, recipient, [messageId]);
        else if (pushed == 0) LogOfferedToNobody(_logger, messageId);
    }

    /// <summary>
    /// Before a new socket of <paramref name="recipient"/> first reads its mailbox: every instance stores at once what it
    /// holds for the user (messages pushed to sockets that are gone, say) and says when that is committed. Then the
    /// read finds every message older than what the socket will be offered live. Instances that do not answer within
    /// <see cref="SocketOptions.RefusalPatience"/> are not waited for (they died, and what they held was never accepted).
    /// </summary>
    public async Task FlushAsync(string recipient, CancellationToken ct)
    {
        var requestId = Guid.NewGuid();
        var wait = new FlushWait();
        _flushes[requestId] = wait;
        try
        {
            long others;
            try
            {
                others = await _bus.FlushAsync(recipient, requestId).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                LogBusFailed(_logger, e);
                others = 0;
            }
            wait.Expect(others);
            await StoreHeldAsync(recipient).ConfigureAwait(false);
            // A slow instance is waited for; one that stopped listening (it died) is not.
            for (var round = 0; round < MaxFlushRounds; round++)
            {
                try
                {
                    await wait.Done.WaitAsync(_patience, _clock, ct).ConfigureAwait(false);
                    return;
                }
                catch (TimeoutException)
                {
                    if (await LiveOthersAsync().ConfigureAwait(false) <= wait.Arrivals) return;
                }
            }
            LogFlushUnanswered(_logger, wait.Missing);
        }
        finally
        {
            _flushes.TryRemove(requestId, out _);
        }
    }

    private async Task<long> LiveOthersAsync()
    {
        try
        {
            return await _bus.InstancesAsync().ConfigureAwait(false) - 1;
        }
        catch (Exception e)
        {
            LogBusFailed(_logger, e);
            return 0;
        }
    }

    /// <summary>Another instance's new socket asks for a flush.</summary>
    public void OnFlushRequest(string recipient, Guid requester, Guid requestId) => _ = AnswerFlushAsync(recipient, requester, requestId);

    public void OnFlushed(Guid requestId)
    {
        if (_flushes.TryGetValue(requestId, out var wait)) wait.Arrived();
    }

    private async Task AnswerFlushAsync(string recipient, Guid requester, Guid requestId)
    {
        try
        {
            await StoreHeldAsync(recipient).ConfigureAwait(false);
        }
        finally
        {
            _bus.Flushed(requester, requestId);
        }
    }

    private Task StoreHeldAsync(string recipient)
    {
        var resolving = new List<Task>();
        foreach (var pending in _pending.Values)
        {
            if (pending.Message.Recipient != recipient) continue;
            StoreNow(pending);
            resolving.Add(pending.Resolved.Task);
        }
        return Task.WhenAll(resolving);
    }

    private async Task RunQueueAsync(RecipientQueue queue)
    {
        while (true)
        {
            Pending next;
            lock (queue)
            {
                if (!queue.Waiting.TryDequeue(out next!))
                {
                    queue.Running = false;
                    return;
                }
            }
            try
            {
                await ChoosePathAsync(queue, next).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // Never expected; the queue must go on all the same, and the message is written rather than lost.
                LogPathFailed(_logger, e);
                StoreNow(next);
            }
        }
    }

    private async Task ChoosePathAsync(RecipientQueue queue, Pending pending)
    {
        var message = pending.Message;
        pending.Queue = queue;
        _pending[message.Id] = pending;
        if (Volatile.Read(ref queue.Storing) > 0)
        {
            StoreNow(pending);
            return;
        }
        var frame = FrameCodec.Message(message.Id, message.Sender, message.ClientId, message.Body, message.SentAt);
        var (pushed, refused) = _registry.Offer(message.Recipient, message.Id, _bus.InstanceId, frame);
        if (refused)
        {
            OnAnswer(Answer.Refused, message.Recipient, message.Id);
            return;
        }
        // Held either way once a socket took it, or while the recipient was seen online a moment ago: then nothing waits
        // for Redis to count the other instances' sockets, and the queue goes on at once. A recipient who went away
        // meanwhile costs only time (the message is written when the grace passes, or by the flush of a new socket).
        var now = _clock.GetTimestamp();
        var online = pushed > 0 || now < Volatile.Read(ref queue.OnlineUntil);
        long elsewhere = 0;
        try
        {
            var offering = _bus.OfferAsync(message.Recipient, message.Id, frame, count: !online);
            if (!online) elsewhere = await offering.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogBusFailed(_logger, e);
        }
        if (!online && elsewhere == 0)
        {
            StoreNow(pending);
            return;
        }
        if (elsewhere > 0) Volatile.Write(ref queue.OnlineUntil, now + _clock.TimestampFrequency);
        pending.Deadline = now + (long)(_grace.TotalSeconds * _clock.TimestampFrequency);
        _held.Writer.TryWrite(pending);
    }

    private void StoreNow(Pending pending)
    {
        if (pending.TryMove(Pending.Held, Pending.Storing)) Store(pending);
    }

    // Counted before the queue chooses the next message's path, and uncounted only after the commit was announced.
    private void Store(Pending pending)
    {
        Interlocked.Increment(ref pending.Queue!.Storing);
        _writer.Store(pending.Sender.Lane, pending.Message, result => Stored(pending, result));
    }

    // Runs on the write lane's loop, in commit order.
    private void Stored(Pending pending, AcceptResult? result)
    {
        var message = pending.Message;
        pending.State = Pending.Done;
        _pending.TryRemove(message.Id, out _);
        byte[] answer;
        var accepted = result?.Status is AcceptStatus.Stored or AcceptStatus.Duplicate;
        switch (result?.Status)
        {
            case AcceptStatus.Stored:
                AnnounceStored(message.Recipient, message.Id);
                if (pending.AckedWhileStoring) _writer.Delete(message.Recipient, message.Id);
                answer = FrameCodec.Accepted(pending.ClientIdText, message.Id, message.SentAt);
                MessagesMetrics.Accepted.Add(1, MessagesMetrics.Stored);
                break;
            case AcceptStatus.Duplicate:
                // A newer copy of this message waits already (a resend that landed first, or the same message twice):
                // that copy answers. Sockets that refused this one (it has an id of its own) hear that it is settled;
                // and every socket rereads, in case the other copy's announcement died with the instance that stored it.
                AnnounceStored(message.Recipient, message.Id);
                AnnounceStored(message.Recipient, result.Value.MessageId);
                answer = FrameCodec.Accepted(pending.ClientIdText, result.Value.MessageId, result.Value.SentAt);
                MessagesMetrics.Accepted.Add(1, MessagesMetrics.Duplicate);
                break;
            case AcceptStatus.MailboxFull or AcceptStatus.SenderShareFull or AcceptStatus.SenderDailyLimit:
                // Announced all the same: a socket that refused the message waits to hear what became of it.
                AnnounceStored(message.Recipient, message.Id);
                var (code, text) = result.Value.Status switch
                {
                    AcceptStatus.MailboxFull => (ErrorCodes.MailboxFull, "The recipient's mailbox is full; try again later."),
                    AcceptStatus.SenderShareFull => (ErrorCodes.MailboxFull,
                        "The recipient's mailbox holds as many of your messages as it takes from one sender; try again once they have read some."),
                    _ => (ErrorCodes.RateLimited, "You have had as many messages stored for offline recipients today as one account may; try again tomorrow."),
                };
                answer = FrameCodec.Error(pending.ClientIdText, code, text);
                MessagesMetrics.Refuse(code);
                break;
            default:
                AnnounceStored(message.Recipient, message.Id);
                answer = FrameCodec.Error(pending.ClientIdText, ErrorCodes.Internal, "Storage is unavailable right now; send again with the same id.");
                MessagesMetrics.Refuse(ErrorCodes.Internal);
                break;
        }
        // After the announcement: the queue's next message may go live only once sockets have heard of this one.
        Interlocked.Decrement(ref pending.Queue!.Storing);
        pending.Resolved.TrySetResult();
        pending.Sender.Answer(message, answer, accepted);
    }

    private void AnnounceStored(string recipient, Guid messageId)
    {
        _registry.NotifyStored(recipient, messageId);
        _bus.Stored(recipient, messageId);
    }

    private async Task GraceLoopAsync()
    {
        try
        {
            while (await _held.Reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                while (_held.Reader.TryPeek(out var next))
                {
                    // Most held messages are acknowledged within milliseconds: those are dropped without waiting, so the
                    // loop sleeps until the oldest one still held is due, not once per message.
                    if (Volatile.Read(ref next.State) == Pending.Held)
                    {
                        var wait = _clock.GetElapsedTime(_clock.GetTimestamp(), next.Deadline);
                        // A few milliseconds of slack: one wake-up writes everything that fell due meanwhile.
                        if (wait > TimeSpan.Zero) await Task.Delay(wait < GraceTick ? GraceTick : wait, _clock, _stopping.Token).ConfigureAwait(false);
                    }
                    _held.Reader.TryRead(out _);
                    StoreNow(next);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down: what is held is written by DisposeAsync.
        }
    }

    /// <summary>Writes everything still held (an orderly shutdown loses nothing that was answered or not).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _graceLoop.ConfigureAwait(false);
        while (_held.Reader.TryRead(out var next)) StoreNow(next);
        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Live message {MessageId} came for a user with no socket here any more; its origin stores it when the grace passes")]
    private static partial void LogOfferedToNobody(ILogger logger, Guid messageId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Choosing the path of a message failed; it is written instead")]
    private static partial void LogPathFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Offering a live message over the bus failed; it is stored instead")]
    private static partial void LogBusFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A flush for a new socket went unanswered by {Missing} live instances for ten rounds; going on without them")]
    private static partial void LogFlushUnanswered(ILogger logger, long missing);

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

    /// <summary>The messages of one sender socket to one recipient, worked in send order.</summary>
    public sealed class RecipientQueue
    {
        public readonly Queue<Pending> Waiting = new();
        public bool Running;

        /// <summary>Messages of this queue being written; while there are any, later ones are written too, behind them.</summary>
        public int Storing;

        /// <summary>Until when (a timestamp) the recipient counts as online elsewhere without asking Redis again.</summary>
        public long OnlineUntil;
    }

    /// <summary>A message held here until it is acknowledged or stored.</summary>
    public sealed class Pending(NewMessage message, Outbound sender)
    {
        public const int Held = 0;
        public const int Storing = 1;
        public const int Done = 2;

        public int State = Held;

        public NewMessage Message { get; } = message;

        public Outbound Sender { get; } = sender;

        public string ClientIdText { get; } = message.ClientId.ToString();

        public RecipientQueue? Queue { get; set; }

        public long Deadline { get; set; }

        public bool AckedWhileStoring { get; set; }

        /// <summary>Completes once the message is acknowledged, or its write is done and announced.</summary>
        public TaskCompletionSource Resolved { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool TryMove(int from, int to) => Interlocked.CompareExchange(ref State, to, from) == from;
    }
}
