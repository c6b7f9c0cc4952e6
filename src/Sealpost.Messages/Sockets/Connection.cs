using System.Buffers;
using System.Buffers.Text;
using System.Net.WebSockets;
using System.Collections.Concurrent;
using Sealpost.Messages.Delivery;
using Sealpost.Messages.Identity;
using Sealpost.Messages.Mailboxes;
using Sealpost.Messages.Monitoring;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;

namespace Sealpost.Messages.Sockets;

/// <summary>The services a socket works with, bundled.</summary>
public sealed record SocketServices(DeliveryServices Delivery, DeviceDirectory Directory, TokenValidator Tokens)
{
    public SocketOptions Options => Delivery.Options;

    public ILogger Logger => Delivery.Logger;
}

/// <summary>
/// One authenticated socket: the I/O shell around its <see cref="SocketDelivery"/>. The receive loop reads client
/// frames (sends go to the <see cref="Relay"/>, acks to the delivery); the write loop is the only writer to the socket,
/// draining one queue of frames in the order they were queued; a timer loop watches the token's expiry and the
/// safety poll.
/// </summary>
public sealed partial class Connection
{
    private const int InitialReceiveBuffer = 4096;
    private static readonly TimeSpan StuckWindowCheck = TimeSpan.FromSeconds(10);
    private static readonly byte[] CloseMarker = [];
    private readonly WebSocket _socket;
    private readonly SocketServices _services;
    private readonly SocketOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly SocketDelivery _delivery;
    private readonly ConcurrentQueue<byte[]> _outbox = new();
    private readonly SemaphoreSlim _pendingSends;
    private readonly CancellationTokenSource _stop = new();
    private readonly TokenBucket _ackBucket;
    private readonly Outbound _outbound;
    private readonly ConcurrentDictionary<Guid, SendUnit> _units = new();
    private TokenBucket _bucket = null!;
    private int _queued;
    private int _writing;
    private bool _closing;
    private WebSocketCloseStatus _closeStatus;
    private string _closeReason = "";
    private bool _closeSent;
    private bool _tooBig;
    private long _lastRateLimitReply;
    private DateTimeOffset _tokenExpiresAt;

    public Connection(WebSocket socket, TokenIdentity identity, string connectionId, SocketServices services)
    {
        _socket = socket;
        _services = services;
        _options = services.Options;
        _clock = services.Delivery.Clock;
        _logger = services.Logger;
        Username = identity.Username;
        Device = identity.Device;
        Address = identity.Address;
        ConnectionId = connectionId;
        _tokenExpiresAt = identity.ExpiresAt;
        _delivery = new SocketDelivery(Address, services.Delivery, Emit, Close) { Session = identity.Session };
        _pendingSends = new SemaphoreSlim(_options.MaxPendingSends, _options.MaxPendingSends);
        _ackBucket = new TokenBucket(_options.AcksPerSecond, _options.AcksPerSecond * 2.0, _clock);
        _outbound = new Outbound(Random.Shared.Next(), Answer);
    }

    public string Username { get; }

    /// <summary>The device this socket was opened for (the token's <c>dev</c>).</summary>
    public int Device { get; }

    /// <summary>The device's name in this service (<see cref="DeviceAddress"/>): its mailbox and the sender of what it sends.</summary>
    public string Address { get; }

    public string ConnectionId { get; }

    public async Task RunAsync(CancellationToken ct)
    {
        var registry = _services.Delivery.Registry;
        if (await registry.AddAsync(_delivery) is not { } bucket)
        {
            await CloseOutputAsync((WebSocketCloseStatus)CloseCodes.TooManySockets,
                $"At most {_options.MaxSocketsPerUser} sockets per user on one server; close one and reconnect.");
            _socket.Abort();
            return;
        }
        _bucket = bucket;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token);
        var timing = TimerLoopAsync(linked.Token);
        _ = _delivery.StartAsync();
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
            await registry.RemoveAsync(_delivery);
            _delivery.Stop();
            lock (_gate) _closing = true;
            // What is queued (a close, say) goes out first; a write that is stuck is cut off.
            for (var waited = 0; waited < 250 && (!_outbox.IsEmpty || Volatile.Read(ref _writing) != 0) && !_closeSent && !_stop.IsCancellationRequested; waited++)
                await Task.Delay(20, CancellationToken.None);
            await _stop.CancelAsync();
            await timing;
            if (_socket.State == WebSocketState.CloseReceived) await CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "");
            _socket.Abort();
            _socket.Dispose();
        }
    }

    /// <summary>Asks the socket to close with a code and reason (1001 on shutdown: reconnect elsewhere), after what is queued.</summary>
    public void Close(WebSocketCloseStatus status, string reason)
    {
        lock (_gate)
        {
            if (_closing) return;
            _closing = true;
            _closeStatus = status;
            _closeReason = reason;
            _outbox.Enqueue(CloseMarker);
        }
        Pump();
    }

    // One answer per message; a send of several copies is answered once, when every copy is.
    private void Answer(NewMessage message, byte[] frame, bool accepted)
    {
        if (_units.TryRemove(message.Id, out var unit))
        {
            if (unit.Answered(message.Id, frame, accepted) is not { } whole) return;
            frame = whole;
        }
        _pendingSends.Release();
        Reply(frame);
    }

    private void Reply(byte[] frame) => Emit(frame);

    // A socket whose queue keeps growing is not reading: it is dropped rather than allowed to hold memory.
    private bool Emit(byte[] frame)
    {
        lock (_gate)
        {
            if (_closing) return false;
            if (++_queued > _options.SendQueueLimit)
            {
                _closing = true;
                MessagesMetrics.SocketsDropped.Add(1, MessagesMetrics.SlowReader);
                LogSlowReader(_logger, ConnectionId, Username);
                _ = _stop.CancelAsync();
                return false;
            }
            _outbox.Enqueue(frame);
        }
        Pump();
        return true;
    }

    /// <summary>
    /// Writes what is queued, unless a write is running already (it will take the new frames too). The first frames are
    /// written inline, by whoever queued them: Kestrel's pipe usually takes the bytes at once, so a frame costs no thread
    /// hop, and frames that come together leave in one socket write. A write that must wait goes on by itself.
    /// </summary>
    private void Pump()
    {
        if (Interlocked.CompareExchange(ref _writing, 1, 0) == 0) _ = DrainAsync();
    }

    private async Task DrainAsync()
    {
        try
        {
            while (true)
            {
                while (_outbox.TryDequeue(out var frame))
                {
                    if (ReferenceEquals(frame, CloseMarker))
                    {
                        // Nothing is written after the close; _writing stays set.
                        await CloseOutputAsync(_closeStatus, _closeReason);
                        return;
                    }
                    var sending = _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                    // A ValueTask is consumed exactly once, also when it completed at once: its source may be pooled.
                    if (sending.IsCompleted) sending.GetAwaiter().GetResult();
                    else
                    {
                        // A peer that does not read for this long is cut off (its socket aborted, the write fails).
                        using var timeout = new CancellationTokenSource(_options.SendTimeout, _clock);
                        await using var abort = timeout.Token.Register(_socket.Abort);
                        await sending;
                    }
                    MessagesMetrics.FrameSent(frame);
                    Interlocked.Decrement(ref _queued);
                }
                Volatile.Write(ref _writing, 0);
                if (_outbox.IsEmpty || Interlocked.CompareExchange(ref _writing, 1, 0) != 0) return;
            }
        }
        catch (Exception e)
        {
            // The socket broke, or a write waited too long: stop reading from it too (callbacks off this thread, which
            // may hold a delivery lock). Nothing else is expected here; if it comes, it is logged, never swallowed.
            if (e is not (OperationCanceledException or WebSocketException or ObjectDisposedException or IOException)) LogWriteFailed(_logger, e, ConnectionId);
            _ = _stop.CancelAsync();
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
                    MessagesMetrics.FrameReceived(null);
                    if (Admit(_bucket, 1, _options.FramesPerSecond)) Reply(FrameCodec.Error(null, ErrorCodes.BadFrame, "Frames are JSON text, not binary."));
                    continue;
                }
                await HandleAsync(buffer.AsSpan(0, length), ct);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private ValueTask HandleAsync(ReadOnlySpan<byte> json, CancellationToken ct)
    {
        var (frame, problem) = FrameCodec.Parse(json);
        MessagesMetrics.FrameReceived(frame?.Type);
        if (frame is null)
        {
            if (Admit(_bucket, 1, _options.FramesPerSecond)) Reply(FrameCodec.Error(null, ErrorCodes.BadFrame, problem!));
            return ValueTask.CompletedTask;
        }
        // Acks answer what the server sent, so they have a budget of their own: a user working through a large
        // backlog is not slowed to the pace allowed for sends.
        if (frame.Type == FrameTypes.Ack)
        {
            HandleAck(frame);
            return ValueTask.CompletedTask;
        }
        if (!Admit(_bucket, 1, _options.FramesPerSecond))
        {
            if (frame.Type == FrameTypes.Send) MessagesMetrics.Refuse(ErrorCodes.RateLimited);
            return ValueTask.CompletedTask;
        }
        switch (frame.Type)
        {
            case FrameTypes.Send:
                return SendAsync(frame, ct);
            case FrameTypes.Auth:
                return new ValueTask(RenewAsync(frame.AccessToken, ct));
            default:
                Reply(FrameCodec.Error(frame.Id, ErrorCodes.BadFrame, "\"type\" must be send, ack or auth."));
                return ValueTask.CompletedTask;
        }
    }

    private bool Admit(TokenBucket bucket, int count, int perSecond)
    {
        if (bucket.TryTake(count)) return true;
        // One answer a second at most: answering every frame of a flood would itself be a flood.
        if (_clock.GetElapsedTime(Interlocked.Read(ref _lastRateLimitReply)) > TimeSpan.FromSeconds(1))
        {
            Interlocked.Exchange(ref _lastRateLimitReply, _clock.GetTimestamp());
            Reply(FrameCodec.Error(null, ErrorCodes.RateLimited, $"At most {perSecond} frames of this kind a second; frames beyond that are dropped."));
        }
        return false;
    }

    private void HandleAck(ClientFrame frame)
    {
        var ids = frame.MessageIds ?? (frame.MessageId is { } one ? [one] : []);
        if (ids.Count is 0 or > Limits.AckIdsMax || (frame.MessageId is not null && frame.MessageIds is not null))
        {
            if (Admit(_bucket, 1, _options.FramesPerSecond))
                Reply(FrameCodec.Error(null, ErrorCodes.BadFrame, $"An ack carries \"message_id\", or \"message_ids\" with 1 to {Limits.AckIdsMax} ids."));
            return;
        }
        Span<Guid> parsed = stackalloc Guid[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            if (!Guid.TryParse(ids[i], out parsed[i]))
            {
                if (Admit(_bucket, 1, _options.FramesPerSecond))
                    Reply(FrameCodec.Error(null, ErrorCodes.BadFrame, "Every message id in an ack must be a message id (UUID); nothing was acknowledged."));
                return;
            }
        }
        if (Admit(_ackBucket, ids.Count, _options.AcksPerSecond)) _delivery.Ack(parsed);
    }

    private async ValueTask SendAsync(ClientFrame frame, CancellationToken ct)
    {
        string code;
        byte[]? refusal;
        string? to = null;
        try
        {
            // Awaited here, not in the background: the relay must get one socket's sends in the order they came.
            (code, refusal, to) = await RefusalAsync(frame, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogDirectoryFailed(_logger, e, ConnectionId);
            code = ErrorCodes.Internal;
            refusal = FrameCodec.Error(frame.Id, code, ServiceDefaultsExtensions.IsUnavailable(e) || e is HttpRequestException
                ? "Storage is unavailable right now; send again with the same id."
                : "The message could not be stored; send again with the same id.");
        }
        if (refusal is not null)
        {
            MessagesMetrics.Refuse(code);
            Reply(refusal);
            return;
        }
        await _pendingSends.WaitAsync(ct);
        Submit(frame, to!);
    }

    /// <summary>
    /// Why this send cannot go on (its error frame), or null and the recipient's normalized name when it can: its shape,
    /// its recipient, its devices.
    /// </summary>
    private async ValueTask<(string Code, byte[]? Frame, string? To)> RefusalAsync(ClientFrame frame, CancellationToken ct)
    {
        (string, byte[]?, string?) Refuse(string code, string text) => (code, FrameCodec.Error(frame.Id, code, text), null);
        if (frame.Id is null || !Guid.TryParse(frame.Id, out _)) return Refuse(ErrorCodes.BadFrame, "\"id\" must be a UUID chosen by the client.");
        if (frame.To is null) return Refuse(ErrorCodes.BadFrame, "\"to\" is required.");
        if ((frame.Body is null) == (frame.Envelopes is null))
            return Refuse(ErrorCodes.BadFrame, "A send carries \"body\" (one envelope) or \"envelopes\" (one per device of the recipient).");
        if (frame.Body is { } body)
        {
            if (frame.Copies is not null) return Refuse(ErrorCodes.BadFrame, "\"copies\" come with \"envelopes\", not with \"body\".");
            if (BodyProblem(body, "\"body\"") is { } problem) return Refuse(problem.Code, problem.Text);
        }
        else
        {
            foreach (var (list, field, most) in new[] { (frame.Envelopes!, "envelopes", Limits.DevicesMax), (frame.Copies ?? [], "copies", Limits.DevicesMax - 1) })
            {
                if (field == "envelopes" && list.Count == 0 || list.Count > most)
                    return Refuse(ErrorCodes.BadFrame, $"\"{field}\" holds {(field == "envelopes" ? 1 : 0)} to {most} envelopes, one per device.");
                if (list.Any(e => e is null || e.Device < 1) || list.DistinctBy(e => e.Device).Count() != list.Count)
                    return Refuse(ErrorCodes.BadFrame, $"Every envelope in \"{field}\" names a device (an integer from 1), each device once.");
                foreach (var envelope in list)
                    if (BodyProblem(envelope.Body, $"Each body in \"{field}\"") is { } problem) return Refuse(problem.Code, problem.Text);
            }
        }
        if (AccountRules.NormalizeUsername(frame.To) is not { } to) return Refuse(ErrorCodes.UnknownRecipient, "No account has that name.");

        var directory = _services.Directory;
        for (var asked = false; ; asked = true)
        {
            var recipients = asked ? await directory.RefreshAsync(to, ct) : await directory.DevicesAsync(to, ct);
            if (recipients.Length == 0) return Refuse(ErrorCodes.UnknownRecipient, "No account has that name.");
            var mine = to == Username ? recipients : asked ? await directory.RefreshAsync(Username, ct) : await directory.DevicesAsync(Username, ct);
            if (!mine.Contains(Device))
            {
                if (asked) return Refuse(ErrorCodes.Unauthorized, "This device was removed from the account; it can no longer send.");
                continue;
            }
            // A note to self goes to every device of mine, this one too; otherwise copies go to my other devices.
            int[] others = to == Username ? [] : [.. mine.Where(d => d != Device)];
            var matches = frame.Body is not null
                ? recipients is [DeviceAddress.FirstDevice] && others.Length == 0
                : SameDevices(frame.Envelopes!, recipients) && SameDevices(frame.Copies ?? [], others);
            if (matches) return ("", null, to);
            if (asked) return (ErrorCodes.StaleDevices, FrameCodec.StaleDevices(frame.Id, recipients, others), null);
        }
    }

    private static bool SameDevices(IReadOnlyList<DeviceEnvelope> envelopes, int[] devices) =>
        envelopes.Count == devices.Length && envelopes.All(e => devices.Contains(e.Device));

    private static (string Code, string Text)? BodyProblem(string? body, string what) =>
        body switch
        {
            null => (ErrorCodes.BadFrame, $"{what} is required."),
            { Length: > Limits.BodyMaxBase64Chars } => (ErrorCodes.TooLarge, $"{what} is at most {Limits.BodyMaxBase64Chars} characters of base64."),
            { Length: 0 } => (ErrorCodes.BadFrame, $"{what} must not be empty."),
            _ when !Base64.IsValid(body) => (ErrorCodes.BadFrame, $"{what} must be standard base64."),
            _ => null,
        };

    /// <summary>Hands a checked send to the relay: one message per copy, answered as one.</summary>
    private void Submit(ClientFrame frame, string to)
    {
        var clientId = Guid.Parse(frame.Id!);
        var now = Now();
        var relay = _services.Delivery.Relay;
        if (frame.Body is { } body)
        {
            relay.Submit(_outbound, new NewMessage(MessageIds.Next(_clock), Address, clientId, to, body, now));
            return;
        }
        var messages = new List<NewMessage>(frame.Envelopes!.Count + (frame.Copies?.Count ?? 0));
        foreach (var e in frame.Envelopes) messages.Add(new NewMessage(MessageIds.Next(_clock), Address, clientId, DeviceAddress.Of(to, e.Device), e.Body, now));
        foreach (var c in frame.Copies ?? []) messages.Add(new NewMessage(MessageIds.Next(_clock), Address, clientId, DeviceAddress.Of(Username, c.Device), c.Body, now));
        if (messages.Count > 1)
        {
            var unit = new SendUnit(messages[0].Id, messages.Count);
            foreach (var m in messages) _units[m.Id] = unit;
        }
        foreach (var m in messages) relay.Submit(_outbound, m);
    }

    /// <summary>
    /// The copies of one send (one per device): answered once every copy is, with the first envelope's <c>accepted</c>,
    /// or with an error if any copy failed (then the client sends again, and copies that got through are duplicates).
    /// </summary>
    private sealed class SendUnit(Guid first, int copies)
    {
        private int _waiting = copies;
        private byte[]? _accepted;
        private byte[]? _error;

        /// <summary>The answer for the whole send once the last copy is answered; null before.</summary>
        public byte[]? Answered(Guid messageId, byte[] frame, bool accepted)
        {
            lock (this)
            {
                if (messageId == first && accepted) _accepted = frame;
                if (!accepted) _error ??= frame;
                return --_waiting == 0 ? _error ?? _accepted : null;
            }
        }
    }

    // PostgreSQL keeps microseconds: a message pushed live shows the same sent_at as its stored copy.
    private DateTimeOffset Now()
    {
        var now = _clock.GetUtcNow();
        return now.AddTicks(-(now.UtcTicks % 10));
    }

    private async Task RenewAsync(string? token, CancellationToken ct)
    {
        var identity = await _services.Tokens.ValidateAsync(token, ct);
        if (identity is not { } valid || valid.Username != Username || valid.Device != Device)
        {
            Reply(FrameCodec.Error(null, ErrorCodes.Unauthorized, "That access token is not valid for this user."));
            return;
        }
        lock (_gate) _tokenExpiresAt = valid.ExpiresAt;
        _delivery.Session = valid.Session;
        Reply(FrameCodec.Authenticated(valid.ExpiresAt));
    }

    /// <summary>Token expiry, the safety poll, and a full window that nothing acknowledges here (acks elsewhere may have freed it).</summary>
    private async Task TimerLoopAsync(CancellationToken ct)
    {
        var lastPoll = _clock.GetTimestamp();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // Jittered, so thousands of idle sockets do not all read their mailboxes in the same second.
                // (While the bus is away, the registry has every socket poll at the degraded pace.)
                var poll = _options.SafetyPollInterval * (0.75 + Random.Shared.NextDouble() / 2);
                DateTimeOffset expiresAt;
                lock (_gate) expiresAt = _tokenExpiresAt;
                var untilExpiry = expiresAt - _clock.GetUtcNow();
                if (untilExpiry <= TimeSpan.Zero)
                {
                    Close((WebSocketCloseStatus)CloseCodes.TokenExpired, "The access token expired; refresh it and reconnect.");
                    return;
                }
                var wait = new[] { poll - _clock.GetElapsedTime(lastPoll), untilExpiry, StuckWindowCheck }.Min();
                if (wait > TimeSpan.Zero) await Task.Delay(wait, _clock, ct);
                if (_clock.GetElapsedTime(lastPoll) >= poll)
                {
                    lastPoll = _clock.GetTimestamp();
                    _delivery.Wake();
                }
                await _delivery.CheckStuckWindowAsync(StuckWindowCheck, ct);
                _delivery.ReportIfStuck(StuckWindowCheck);
            }
        }
        catch (OperationCanceledException)
        {
            // closing
        }
    }

    private async Task CloseOutputAsync(WebSocketCloseStatus status, string reason)
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Connection {ConnectionId}: writing to the socket failed; closing it")]
    private static partial void LogWriteFailed(ILogger logger, Exception e, string connectionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {ConnectionId} of {Username} does not read its frames; dropping it")]
    private static partial void LogSlowReader(ILogger logger, string connectionId, string username);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {ConnectionId}: the users service could not say whether a recipient exists")]
    private static partial void LogDirectoryFailed(ILogger logger, Exception e, string connectionId);
}
