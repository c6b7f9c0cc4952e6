using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;
using Sealpost.Messages.Delivery;
using Sealpost.Messages.Identity;
using Sealpost.Messages.Mailboxes;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;

namespace Sealpost.Messages.Sockets;

/// <summary>
/// One authenticated socket. Two loops: the receive loop parses client frames and starts their work; the delivery
/// loop is the only writer to the socket and owns the delivery state (which messages are in flight), so neither
/// needs a lock. The mailbox in the store is the source of truth: live pushes are a shortcut taken only when the
/// socket has caught up with its mailbox, and anything missed is found by the next mailbox read.
/// </summary>
public sealed partial class Connection
{
    private const int InitialReceiveBuffer = 4096;
    private const int RecentAcksKept = 256;
    private readonly WebSocket _socket;
    private readonly IMailboxStore _store;
    private readonly RecipientDirectory _directory;
    private readonly TokenValidator _tokens;
    private readonly ConnectionRegistry _registry;
    private readonly IDeliveryBus _bus;
    private readonly SocketOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly Channel<Event> _events;
    private readonly SemaphoreSlim _pendingWork;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<Guid> _inFlight = [];
    private TokenBucket _bucket = null!;
    private readonly TokenBucket _ackBucket;
    private DateTimeOffset _tokenExpiresAt;
    private bool _closeSent;
    private volatile bool _finished;
    private bool _tooBig;
    private long _lastRateLimitReply;

    public Connection(
        WebSocket socket, TokenIdentity identity, string connectionId, IMailboxStore store, RecipientDirectory directory,
        TokenValidator tokens, ConnectionRegistry registry, IDeliveryBus bus, SocketOptions options, TimeProvider clock, ILogger logger)
    {
        _socket = socket;
        Username = identity.Username;
        ConnectionId = connectionId;
        _tokenExpiresAt = identity.ExpiresAt;
        _store = store;
        _directory = directory;
        _tokens = tokens;
        _registry = registry;
        _bus = bus;
        _options = options;
        _clock = clock;
        _logger = logger;
        _pendingWork = new SemaphoreSlim(options.MaxPendingSends, options.MaxPendingSends);
        _ackBucket = new TokenBucket(options.AcksPerSecond, options.AcksPerSecond * 2.0, clock);
        _events = Channel.CreateBounded<Event>(new BoundedChannelOptions(options.SendQueueLimit) { SingleReader = true });
    }

    public string Username { get; }

    public string ConnectionId { get; }

    private enum EventKind
    {
        Reply,
        Live,
        Acked,
        Wake,
        Close,
    }

    public async Task RunAsync(CancellationToken ct)
    {
        _bucket = await _registry.AddAsync(this);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token);
        var delivery = DeliveryLoopAsync(linked.Token);
        try
        {
            await ReceiveLoopAsync(linked.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The peer went away or the socket was aborted: nothing more to read.
        }
        finally
        {
            await _registry.RemoveAsync(this);
            // The delivery loop writes what is queued (a close, say) and then ends; one that is stuck is cut off.
            _finished = true;
            _events.Writer.TryComplete();
            if (await Task.WhenAny(delivery, Task.Delay(TimeSpan.FromSeconds(5), _clock, CancellationToken.None)) != delivery) await _stop.CancelAsync();
            await delivery;
            if (_socket.State == WebSocketState.CloseReceived) await CloseAsync(WebSocketCloseStatus.NormalClosure, "");
            _socket.Abort();
            _socket.Dispose();
        }
    }

    /// <summary>A message just stored for this user, possibly pushed straight out.</summary>
    public void Offer(LiveDelivery delivery) => Post(new Event(EventKind.Live, Delivery: delivery));

    public void OnAcked(Guid messageId) => Post(new Event(EventKind.Acked, MessageId: messageId));

    public void Wake() => Post(new Event(EventKind.Wake));

    /// <summary>Asks the socket to close with a code and reason (1001 on shutdown: reconnect elsewhere).</summary>
    public void Close(WebSocketCloseStatus status, string reason)
    {
        if (!_events.Writer.TryWrite(new Event(EventKind.Close, Status: status, Reason: reason))) _stop.Cancel();
    }

    private void Reply(byte[] frame) => Post(new Event(EventKind.Reply, Frame: frame));

    private bool Admit(TokenBucket bucket, int perSecond)
    {
        if (bucket.TryTake()) return true;
        // One answer a second at most: answering every frame of a flood would itself be a flood.
        if (_clock.GetElapsedTime(_lastRateLimitReply) > TimeSpan.FromSeconds(1))
        {
            _lastRateLimitReply = _clock.GetTimestamp();
            Reply(ServerFrames.Error(null, ErrorCodes.RateLimited, $"At most {perSecond} frames of this kind a second; frames beyond that are dropped."));
        }
        return false;
    }

    private void Post(Event e)
    {
        // A socket whose queue is full is not reading: it is dropped rather than allowed to hold memory.
        if (!_events.Writer.TryWrite(e) && !_finished)
        {
            LogSlowReader(_logger, ConnectionId, Username);
            _stop.Cancel();
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            // A zero-byte read waits for data without holding a buffer, so an idle socket costs almost nothing.
            var first = await _socket.ReceiveAsync(Memory<byte>.Empty, ct);
            if (first.MessageType == WebSocketMessageType.Close) break;
            var buffer = ArrayPool<byte>.Shared.Rent(InitialReceiveBuffer);
            try
            {
                var length = 0;
                ValueWebSocketReceiveResult result = default;
                do
                {
                    if (length == Math.Min(buffer.Length, Limits.FrameMaxBytes))
                    {
                        if (length >= Limits.FrameMaxBytes)
                        {
                            // Keep reading (and dropping) until the peer answers the close: closing a socket with
                            // unread data makes the kernel reset it, and the client would never see 1009.
                            if (!_tooBig) Close(WebSocketCloseStatus.MessageTooBig, $"Frames are at most {Limits.FrameMaxBytes} bytes.");
                            _tooBig = true;
                            length = 0;
                            continue;
                        }
                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, Limits.FrameMaxBytes));
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length, Math.Min(buffer.Length, Limits.FrameMaxBytes) - length), ct);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close) break;
                if (_tooBig) continue;
                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    if (Admit(_bucket, _options.FramesPerSecond)) Reply(ServerFrames.Error(null, ErrorCodes.BadFrame, "Frames are JSON text, not binary."));
                    continue;
                }
                var frame = ClientFrame.Parse(buffer.AsSpan(0, length));
                // Acks answer what the server sent, so they have a budget of their own: a user working through a
                // large backlog is not slowed to the pace allowed for sends.
                var admitted = frame.Type == FrameTypes.Ack && frame.Problem is null
                    ? Admit(_ackBucket, _options.AcksPerSecond)
                    : Admit(_bucket, _options.FramesPerSecond);
                if (admitted) await HandleAsync(frame, ct);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private async Task HandleAsync(ClientFrame frame, CancellationToken ct)
    {
        if (frame.Problem is not null)
        {
            Reply(ServerFrames.Error(frame.Id, ErrorCodes.BadFrame, frame.Problem));
            return;
        }
        switch (frame.Type)
        {
            case FrameTypes.Send:
                var send = ValidateSend(frame);
                if (send is null) return;
                await _pendingWork.WaitAsync(ct);
                _ = StoreAsync(frame.Id!, send, ct);
                break;
            case FrameTypes.Ack:
                if (!Guid.TryParse(frame.MessageId, out var messageId))
                {
                    Reply(ServerFrames.Error(null, ErrorCodes.BadFrame, "\"message_id\" must be a message id (UUID)."));
                    return;
                }
                await _pendingWork.WaitAsync(ct);
                _ = AckAsync(messageId, ct);
                break;
            case FrameTypes.Auth:
                await RenewAsync(frame.AccessToken, ct);
                break;
            default:
                Reply(ServerFrames.Error(frame.Id, ErrorCodes.BadFrame, "\"type\" must be send, ack or auth."));
                break;
        }
    }

    private NewMessage? ValidateSend(ClientFrame frame)
    {
        string? problem = null;
        var code = ErrorCodes.BadFrame;
        if (frame.Id is null || !Guid.TryParse(frame.Id, out var clientId)) problem = "\"id\" must be a UUID chosen by the client.";
        else if (frame.To is null) problem = "\"to\" is required.";
        else if (frame.Body is null) problem = "\"body\" is required.";
        else if (frame.Body.Length > Limits.BodyMaxBase64Chars)
            (code, problem) = (ErrorCodes.TooLarge, $"\"body\" is at most {Limits.BodyMaxBase64Chars} characters of base64.");
        else if (frame.Body.Length == 0) problem = "\"body\" must not be empty.";
        else if (AccountRules.NormalizeUsername(frame.To) is not { } to)
            (code, problem) = (ErrorCodes.UnknownRecipient, "No account has that name.");
        else
        {
            var body = new byte[frame.Body.Length / 4 * 3];
            if (!Convert.TryFromBase64String(frame.Body, body, out var written)) problem = "\"body\" must be standard base64.";
            else return new NewMessage(MessageIds.Next(_clock), Username, clientId, to, body.AsSpan(0, written).ToArray());
        }
        Reply(ServerFrames.Error(frame.Id, code, problem));
        return null;
    }

    private async Task StoreAsync(string id, NewMessage message, CancellationToken ct)
    {
        try
        {
            if (!await _directory.ExistsAsync(message.Recipient, ct))
            {
                Reply(ServerFrames.Error(id, ErrorCodes.UnknownRecipient, "No account has that name."));
                return;
            }
            var result = await _store.AcceptAsync(message, ct);
            switch (result.Status)
            {
                case AcceptStatus.Stored:
                    var frame = ServerFrames.Message(result.MessageId, message.Sender, message.Body, result.SentAt);
                    await _registry.DeliverAsync(new LiveDelivery(message.Recipient, result.MessageId, frame));
                    Reply(ServerFrames.Accepted(id, result.MessageId, result.SentAt));
                    break;
                case AcceptStatus.Duplicate:
                    Reply(ServerFrames.Accepted(id, result.MessageId, result.SentAt));
                    break;
                default:
                    Reply(ServerFrames.Error(id, ErrorCodes.MailboxFull, "The recipient's mailbox is full; try again later."));
                    break;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The socket is gone; a client that re-sends the same id gets the same message id.
        }
        catch (Exception e)
        {
            LogStoreFailed(_logger, ConnectionId, e.GetType().Name, e.Message);
            Reply(ServerFrames.Error(id, ErrorCodes.Internal,
                ServiceDefaultsExtensions.IsUnavailable(e) || e is HttpRequestException
                    ? "Storage is unavailable right now; send again with the same id."
                    : "The message could not be stored; send again with the same id."));
        }
        finally
        {
            _pendingWork.Release();
        }
    }

    private async Task AckAsync(Guid messageId, CancellationToken ct)
    {
        try
        {
            await _store.AckAsync(Username, messageId, ct);
            _registry.NotifyAcked(Username, messageId);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Not deleted: the message comes again on the next connection, as at-least-once allows.
        }
        catch (Exception e)
        {
            LogStoreFailed(_logger, ConnectionId, e.GetType().Name, e.Message);
            Reply(ServerFrames.Error(null, ErrorCodes.Internal, "The ack could not be recorded; the message may come again."));
        }
        finally
        {
            _pendingWork.Release();
        }
    }

    private async Task RenewAsync(string? token, CancellationToken ct)
    {
        var identity = await _tokens.ValidateAsync(token, ct);
        if (identity is not { } valid || valid.Username != Username)
        {
            Reply(ServerFrames.Error(null, ErrorCodes.Unauthorized, "That access token is not valid for this user."));
            return;
        }
        _tokenExpiresAt = valid.ExpiresAt;
        Reply(ServerFrames.Authenticated(valid.ExpiresAt));
    }

    private async Task DeliveryLoopAsync(CancellationToken ct)
    {
        var dirty = true;       // the mailbox may hold messages this socket has not been sent
        var caughtUp = false;   // the last mailbox read found everything, so live pushes keep the order
        var announced = false;  // the client was told (synced) that it has caught up
        var recentlyAcked = new HashSet<Guid>();
        var ackOrder = new Queue<Guid>();
        var lastProgress = _clock.GetTimestamp();
        try
        {
            while (!ct.IsCancellationRequested && !_closeSent)
            {
                if (dirty && _inFlight.Count < _options.DeliveryWindow)
                {
                    dirty = false;
                    var room = _options.DeliveryWindow - _inFlight.Count;
                    try
                    {
                        var pending = await _store.PendingAsync(Username, _inFlight, room, ct);
                        foreach (var message in pending)
                        {
                            await SendAsync(ServerFrames.Message(message.Id, message.Sender, message.Body, message.SentAt), ct);
                            _inFlight.Add(message.Id);
                        }
                        // A full read leaves more behind; the next read comes when acks have freed half the window.
                        caughtUp = pending.Count < room;
                        dirty = false;
                        if (caughtUp && !announced) await SendAsync(ServerFrames.Synced, ct);
                        announced = caughtUp;
                        lastProgress = _clock.GetTimestamp();
                    }
                    catch (Exception e) when (e is not OperationCanceledException && e is not WebSocketException)
                    {
                        LogStoreFailed(_logger, ConnectionId, e.GetType().Name, e.Message);
                        dirty = true;
                        await Task.Delay(TimeSpan.FromSeconds(1), _clock, ct);
                    }
                    continue;
                }

                if (_events.Reader.TryRead(out var next))
                {
                    await HandleEventAsync(next, ct);
                    continue;
                }

                var now = _clock.GetUtcNow();
                if (now >= _tokenExpiresAt)
                {
                    await CloseAsync((WebSocketCloseStatus)CloseCodes.TokenExpired, "The access token expired; refresh it and reconnect.");
                    break;
                }
                // Jittered, so thousands of idle sockets do not all read their mailboxes in the same second.
                var poll = (_bus.IsHealthy ? _options.SafetyPollInterval : _options.DegradedPollInterval) * (0.75 + Random.Shared.NextDouble() / 2);
                if (_inFlight.Count >= _options.DeliveryWindow && _clock.GetElapsedTime(lastProgress) > TimeSpan.FromSeconds(10))
                {
                    // The window is full and nothing was acked here for a while: acks on the user's other sockets
                    // (perhaps on another instance) may have freed these messages.
                    _inFlight.IntersectWith(await _store.StillPendingAsync(Username, _inFlight, ct));
                    lastProgress = _clock.GetTimestamp();
                    dirty = true;
                    continue;
                }
                using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timer.CancelAfter(_tokenExpiresAt - now < poll ? _tokenExpiresAt - now : poll);
                try
                {
                    if (!await _events.Reader.WaitToReadAsync(timer.Token)) break;
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    dirty = true;   // time to poll the mailbox (or to notice the token expired)
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ChannelClosedException)
        {
            // The socket broke or is closing: stop reading from it too.
            _stop.Cancel();
        }
        async Task HandleEventAsync(Event e, CancellationToken token)
        {
            switch (e.Kind)
            {
                case EventKind.Reply:
                    await SendAsync(e.Frame!, token);
                    break;
                case EventKind.Live:
                    var delivery = e.Delivery!;
                    // Already sent from a mailbox read, perhaps even acked already: the push came late.
                    if (_inFlight.Contains(delivery.MessageId) || recentlyAcked.Contains(delivery.MessageId)) break;
                    if (caughtUp && !dirty && _inFlight.Count < _options.DeliveryWindow)
                    {
                        await SendAsync(delivery.Frame, token);
                        _inFlight.Add(delivery.MessageId);
                    }
                    else
                    {
                        caughtUp = false;
                        if (_inFlight.Count <= _options.DeliveryWindow / 2) dirty = true;
                    }
                    break;
                case EventKind.Acked:
                    if (_inFlight.Remove(e.MessageId))
                    {
                        lastProgress = _clock.GetTimestamp();
                        recentlyAcked.Add(e.MessageId);
                        ackOrder.Enqueue(e.MessageId);
                        if (ackOrder.Count > RecentAcksKept) recentlyAcked.Remove(ackOrder.Dequeue());
                        // Refill when half the window is free, not on every ack: one mailbox read per
                        // fifty messages instead of one per message while a backlog drains.
                        if (!caughtUp && _inFlight.Count <= _options.DeliveryWindow / 2) dirty = true;
                    }
                    break;
                case EventKind.Wake:
                    dirty = true;
                    break;
                case EventKind.Close:
                    await CloseAsync(e.Status, e.Reason!);
                    break;
            }
        }
    }

    private async Task SendAsync(byte[] frame, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.SendTimeout);
        await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
    }

    private async Task CloseAsync(WebSocketCloseStatus status, string reason)
    {
        if (_closeSent) return;
        _closeSent = true;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _socket.CloseOutputAsync(status, reason, timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            _socket.Abort();
        }
        // The peer answers the close and the receive loop ends; a peer that does not answer is cut off.
        _stop.CancelAfter(TimeSpan.FromSeconds(5));
    }

    private readonly record struct Event(
        EventKind Kind, byte[]? Frame = null, LiveDelivery? Delivery = null, Guid MessageId = default,
        WebSocketCloseStatus Status = default, string? Reason = null);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {ConnectionId} of {Username} does not read its frames; dropping it")]
    private static partial void LogSlowReader(ILogger logger, string connectionId, string username);

    [LoggerMessage(Level = LogLevel.Error, Message = "Connection {ConnectionId}: the mailbox store failed: {Error} {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, string connectionId, string error, string reason);
}
