using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Cluster;
using Sealpost.Messages.Frames;
using Sealpost.Messages.Mailboxes;
using Sealpost.Messages.Monitoring;
using Sealpost.Protocol;

namespace Sealpost.Messages.Delivery;

/// <summary>
/// The origin side of delivery: deliver first, write second. A valid message is offered at once to the recipient
/// device's sockets, here (<see cref="LocalDevices"/>) and on other instances (<see cref="IClusterBus"/>), and held here
/// for <see cref="DeliveryOptions.AckGrace"/>. If a socket of the device acknowledges it in that time, it is never
/// written: <c>accepted</c> goes to the sender at once. If not, or if a socket refused it, or nobody holds a socket of
/// the device, it is written to the mailbox and <c>accepted</c> follows the commit. Either way the sender hears
/// <c>accepted</c> only once the message survives the loss of any one process.
///
/// Order per (sender socket, recipient device): each such pair is a queue worked one message at a time, up to the
/// moment its path is chosen; while any of its messages is being stored, later ones are stored behind it (one lane, in
/// order) rather than offered live, so a live message never overtakes an older one still on its way to the mailbox.
/// And once one went to the mailbox, later live offers name it (<see cref="LiveOffer.After"/>) until a socket took one
/// live: a socket that never had it (its stored-notice lost with a Redis connection) refuses them, so they are stored
/// behind it, rather than overtaking it.
/// </summary>
internal sealed partial class Relay
{
    private static readonly TimeSpan GraceTick = TimeSpan.FromMilliseconds(5);
    private readonly ConcurrentDictionary<Guid, HeldMessage> _held = new();
    private readonly Channel<HeldMessage> _graceQueue = Channel.CreateUnbounded<HeldMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly LocalDevices _devices;
    private readonly IClusterBus _bus;
    private readonly MailboxWriter _writer;
    private readonly TimeSpan _grace;
    private readonly TimeProvider _clock;
    private readonly MessagesMetrics _metrics;
    private readonly ILogger _logger;

    public Relay(LocalDevices devices, IClusterBus bus, MailboxWriter writer, IOptions<DeliveryOptions> options, TimeProvider clock, MessagesMetrics metrics, ILogger<Relay> logger)
    {
        _devices = devices;
        _bus = bus;
        _writer = writer;
        _grace = options.Value.AckGrace;
        _clock = clock;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Messages held here, waiting for an ack or their write.</summary>
    public int HeldCount => _held.Count;

    /// <summary>Takes a valid message from a sender socket; the answer goes to its <see cref="SenderLane.Replies"/>. Call in send order.</summary>
    public void Submit(SenderLane sender, NewMessage message)
    {
        var held = new HeldMessage(message, sender);
        var queue = sender.QueueFor(message.Recipient);
        bool start;
        lock (queue)
        {
            queue.Waiting.Enqueue(held);
            start = !queue.Running;
            queue.Running = true;
        }
        if (start) _ = RunQueueAsync(queue);
    }

    /// <summary>An answer about a message this instance holds, from one of its own sockets or over the bus.</summary>
    public void OnAnswer(Answer answer, string recipient, Guid messageId)
    {
        if (!_held.TryGetValue(messageId, out var held) || held.Message.Recipient != recipient)
        {
            // Resolved already. An ack then means the row may exist (it was stored before the ack came): delete it.
            // A refusal means a socket waits for news of a message that was acked elsewhere: tell it there is none.
            if (answer == Answer.Acked) _writer.Delete(recipient, messageId);
            else AnnounceStored(recipient, messageId);
            return;
        }
        if (answer == Answer.Acked)
        {
            if (held.TryMove(HeldState.Held, HeldState.Done))
            {
                _held.TryRemove(messageId, out _);
                // A socket took it live after what went to the mailbox before it: later ones need not wait for that.
                if (held.After != Guid.Empty && held.Queue is { } queue) ForgetLastStored(queue, held.After);
                held.Resolved.TrySetResult();
                _metrics.Accepted.Add(1, MessagesMetrics.AckedBeforeWrite);
                held.Sender.Replies.Answered(held.Message, FrameCodec.Accepted(held.ClientIdText, messageId, held.Message.SentAt), accepted: true);
            }
            else held.AckedWhileStoring = true;
        }
        else StoreNow(held);
    }

    /// <summary>A live message offered over the bus by another instance, for sockets here.</summary>
    public void OnRemoteOffer(string recipient, Guid messageId, Guid origin, byte[] frame, Guid after)
    {
        var (pushed, refused) = _devices.Offer(recipient, messageId, origin, frame, after);
        if (refused) _bus.PublishToInstance(origin, new Answers(_bus.InstanceId, Answer.Refused, recipient, [messageId]));
        else if (pushed == 0) LogOfferedToNobody(_logger, messageId);
    }

    /// <summary>Stores at once what is held here for <paramref name="recipient"/>; completes once that is committed and announced.</summary>
    public Task StoreHeldAsync(string recipient)
    {
        var resolving = new List<Task>();
        foreach (var held in _held.Values)
        {
            if (held.Message.Recipient != recipient) continue;
            StoreNow(held);
            resolving.Add(held.Resolved.Task);
        }
        return Task.WhenAll(resolving);
    }

    /// <summary>
    /// The bus lost messages (a connection failed): offers already published may never have arrived, and a later one
    /// that does arrive must not overtake them. So everything held is written now, oldest first (ids follow send order),
    /// and until the bus is healthy again new messages are written rather than offered (<see cref="ChoosePathAsync"/>);
    /// sockets read them in order meanwhile.
    /// </summary>
    public void StoreAllHeld()
    {
        foreach (var held in _held.Values.OrderBy(h => h.Message.Id)) StoreNow(held);
    }

    /// <summary>
    /// Writes held messages as their grace passes, until <paramref name="ct"/> is cancelled; then writes everything still
    /// held, so an orderly shutdown loses nothing, answered or not. Run by <see cref="DeliveryLoops"/>.
    /// </summary>
    public async Task RunGraceAsync(CancellationToken ct)
    {
        try
        {
            while (await _graceQueue.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                while (_graceQueue.Reader.TryPeek(out var next))
                {
                    // Most held messages are acknowledged within milliseconds: those are dropped without waiting, so the
                    // loop sleeps until the oldest one still held is due, not once per message.
                    if (next.State == HeldState.Held)
                    {
                        var wait = _clock.GetElapsedTime(_clock.GetTimestamp(), next.Deadline);
                        // A few milliseconds of slack: one wake-up writes everything that fell due meanwhile.
                        if (wait > TimeSpan.Zero) await Task.Delay(wait < GraceTick ? GraceTick : wait, _clock, ct).ConfigureAwait(false);
                    }
                    _graceQueue.Reader.TryRead(out _);
                    StoreNow(next);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down: what is held is written below, and what comes later is written at once.
        }
        _graceQueue.Writer.TryComplete();
        while (_graceQueue.Reader.TryRead(out var next)) StoreNow(next);
    }

    private async Task RunQueueAsync(SenderLane.RecipientQueue queue)
    {
        while (true)
        {
            HeldMessage next;
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

    private async Task ChoosePathAsync(SenderLane.RecipientQueue queue, HeldMessage held)
    {
        var message = held.Message;
        held.Queue = queue;
        _held[message.Id] = held;
        // Behind a message being written, or while the bus may be losing offers: written, so nothing overtakes.
        if (Volatile.Read(ref queue.Storing) > 0 || !_bus.IsHealthy)
        {
            StoreNow(held);
            return;
        }
        var frame = FrameCodec.Message(message.Id, message.Sender, message.ClientId, message.Body, message.SentAt);
        Guid after;
        lock (queue) after = held.After = queue.LastStored;
        var (pushed, refused) = _devices.Offer(message.Recipient, message.Id, _bus.InstanceId, frame, after);
        if (refused)
        {
            OnAnswer(Answer.Refused, message.Recipient, message.Id);
            return;
        }
        // Held either way once a socket took it, or while the recipient was seen online a moment ago: then nothing waits
        // for the bus to count the other instances' sockets, and the queue goes on at once. A recipient who went away
        // meanwhile costs only time (the message is written when the grace passes, or by the flush of a new socket).
        var now = _clock.GetTimestamp();
        var online = pushed > 0 || now < Volatile.Read(ref queue.OnlineUntil);
        long elsewhere = 0;
        try
        {
            var offer = new LiveOffer(_bus.InstanceId, message.Id, frame, after);
            if (online) _bus.PublishToDevice(message.Recipient, offer);
            else elsewhere = await _bus.PublishToDeviceAsync(message.Recipient, offer).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogBusFailed(_logger, e);
        }
        if (!online && elsewhere == 0)
        {
            StoreNow(held);
            return;
        }
        if (elsewhere > 0) Volatile.Write(ref queue.OnlineUntil, now + _clock.TimestampFrequency);
        held.Deadline = now + (long)(_grace.TotalSeconds * _clock.TimestampFrequency);
        if (!_graceQueue.Writer.TryWrite(held)) StoreNow(held);
    }

    private void StoreNow(HeldMessage held)
    {
        if (!held.TryMove(HeldState.Held, HeldState.Storing)) return;
        // Counted before the queue chooses the next message's path, and uncounted only after the commit was announced.
        Interlocked.Increment(ref held.Queue!.Storing);
        _writer.Store(held.Sender.Lane, held.Message, result => Stored(held, result));
    }

    // Runs on the write lane's loop, in commit order.
    private void Stored(HeldMessage held, AcceptResult? result)
    {
        var message = held.Message;
        held.MarkDone();
        _held.TryRemove(message.Id, out _);
        byte[] answer;
        var accepted = result?.Status is AcceptStatus.Stored or AcceptStatus.Duplicate;
        switch (result?.Status)
        {
            case AcceptStatus.Stored:
                SetLastStored(held.Queue!, message.Id);
                AnnounceStored(message.Recipient, message.Id);
                if (held.AckedWhileStoring) _writer.Delete(message.Recipient, message.Id);
                answer = FrameCodec.Accepted(held.ClientIdText, message.Id, message.SentAt);
                _metrics.Accepted.Add(1, MessagesMetrics.Stored);
                break;
            case AcceptStatus.Duplicate:
                // A newer copy of this message waits already (a resend that landed first, or the same message twice):
                // that copy answers. Sockets that refused this one (it has an id of its own) hear that it is settled;
                // and every socket rereads, in case the other copy's announcement died with the instance that stored it.
                SetLastStored(held.Queue!, result.Value.MessageId);
                AnnounceStored(message.Recipient, message.Id);
                AnnounceStored(message.Recipient, result.Value.MessageId);
                answer = FrameCodec.Accepted(held.ClientIdText, result.Value.MessageId, result.Value.SentAt);
                _metrics.Accepted.Add(1, MessagesMetrics.Duplicate);
                break;
            case AcceptStatus.MailboxFull or AcceptStatus.SenderShareFull or AcceptStatus.SenderDailyLimit:
                // Announced all the same: a socket that refused the message waits to hear what became of it.
                AnnounceStored(message.Recipient, message.Id);
                var (code, text) = Refusal(result.Value.Status);
                answer = FrameCodec.Error(held.ClientIdText, code, text);
                _metrics.Refuse(code);
                break;
            default:
                AnnounceStored(message.Recipient, message.Id);
                answer = FrameCodec.Error(held.ClientIdText, ErrorCodes.Internal, "Storage is unavailable right now; send again with the same id.");
                _metrics.Refuse(ErrorCodes.Internal);
                break;
        }
        // After the announcement: the queue's next message may go live only once sockets have heard of this one.
        Interlocked.Decrement(ref held.Queue!.Storing);
        held.Resolved.TrySetResult();
        held.Sender.Replies.Answered(message, answer, accepted);
    }

    private static (string Code, string Text) Refusal(AcceptStatus status) => status switch
    {
        AcceptStatus.MailboxFull => (ErrorCodes.MailboxFull, "The recipient's mailbox is full; try again later."),
        AcceptStatus.SenderShareFull => (ErrorCodes.MailboxFull,
            "The recipient's mailbox holds as many of your messages (from all your devices) as it takes from one sender; try again once they have read some."),
        _ => (ErrorCodes.RateLimited, "You have had as many messages stored for offline recipients today as one account may; try again tomorrow."),
    };

    private static void ForgetLastStored(SenderLane.RecipientQueue queue, Guid stored)
    {
        lock (queue)
        {
            if (queue.LastStored == stored) queue.LastStored = Guid.Empty;
        }
    }

    // Before the announcement and before Storing is uncounted, so the queue's next offer carries it.
    private static void SetLastStored(SenderLane.RecipientQueue queue, Guid messageId)
    {
        lock (queue) queue.LastStored = messageId;
    }

    private void AnnounceStored(string recipient, Guid messageId)
    {
        _devices.NotifyStored(recipient, messageId);
        _bus.PublishToDevice(recipient, new StoredNotice(_bus.InstanceId, messageId));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Live message {MessageId} came for a device with no socket here any more; its origin stores it when the grace passes")]
    private static partial void LogOfferedToNobody(ILogger logger, Guid messageId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Choosing the path of a message failed; it is written instead")]
    private static partial void LogPathFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Offering a live message over the bus failed; it is stored instead")]
    private static partial void LogBusFailed(ILogger logger, Exception e);
}
