using System.Buffers;
using System.Net.WebSockets;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Delivery;
using Sealpost.Messages.Frames;
using Sealpost.Messages.Identity;
using Sealpost.Messages.Monitoring;
using Sealpost.Messages.Sending;
using Sealpost.Protocol;

namespace Sealpost.Messages.Sockets;

/// <summary>
/// One authenticated socket, from open to close: it opens the device's <see cref="DeviceSession"/> (what reaches the
/// device), reads client frames and hands them on (sends to the <see cref="SendHandler"/>, acks to the session, renewals
/// to the <see cref="TokenValidator"/>), within the account's frame budget. Everything it writes goes through its one
/// <see cref="FrameWriter"/>. A timer closes it when its token expires and gives the session its periodic checks.
/// </summary>
internal sealed class SocketConnection
{
    private const int InitialReceiveBuffer = 4096;
    private readonly WebSocket _socket;
    private readonly DeviceSessions _sessions;
    private readonly SendHandler _sending;
    private readonly FrameBudgets _budgets;
    private readonly TokenValidator _tokens;
    private readonly LiveSessions _liveSessions;
    private readonly SocketOptions _options;
    private readonly TimeProvider _clock;
    private readonly MessagesMetrics _metrics;
    private readonly FrameWriter _writer;
    private readonly Sender _sender;
    private readonly TokenBucket _ackBucket;
    private readonly Lock _gate = new();
    private TokenBucket _bucket = null!;
    private DeviceSession _session = null!;
    private bool _tooBig;
    private long _lastRateLimitReply;
    private DateTimeOffset _tokenExpiresAt;

    public SocketConnection(WebSocket socket, TokenIdentity identity, string connectionId, DeviceSessions sessions, SendHandler sending,
        FrameBudgets budgets, TokenValidator tokens, LiveSessions liveSessions, IOptions<SocketOptions> options, TimeProvider clock, MessagesMetrics metrics,
        ILogger<SocketConnection> logger)
    {
        _socket = socket;
        _sessions = sessions;
        _sending = sending;
        _budgets = budgets;
        _tokens = tokens;
        _liveSessions = liveSessions;
        _options = options.Value;
        _clock = clock;
        _metrics = metrics;
        Identity = identity;
        _tokenExpiresAt = identity.ExpiresAt;
        _writer = new FrameWriter(socket, _options, clock, metrics, logger, connectionId);
        _sender = new Sender(identity.Username, identity.Device, identity.Address, _writer, _options.MaxPendingSends);
        _ackBucket = new TokenBucket(_options.AcksPerSecond, _options.AcksPerSecond * 2.0, clock);
    }

    private async Task AwaitCloseAnswerAsync(CancellationToken ct)
    {
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(ct);
        patience.CancelAfter(TimeSpan.FromSeconds(2));
        var buffer = new byte[256];
        try
        {
            while (_socket.State == WebSocketState.CloseSent)
                if ((await _socket.ReceiveAsync(buffer, patience.Token)).MessageType == WebSocketMessageType.Close) return;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // Gone, or not answering: cut off below.
        }
        _socket.Abort();
    }

    /// <summary>Who opened it: the user, the device (<see cref="DeviceAddress"/>), the session.</summary>
    public TokenIdentity Identity { get; }

    public async Task RunAsync(CancellationToken ct)
    {
        if (await _sessions.OpenAsync(Identity.Address, Identity.Session, _writer) is not { } session)
        {
            await _writer.RefuseAsync(CloseCodes.TooManySockets, $"At most {_sessions.MaxPerAccount} sockets per account on one server, all its devices together; close one and reconnect.");
            // Aborting at once could cut the close frame off on its way (clients saw 1006, or HAProxy's 502): the
            // client answers the close, or is cut off after a moment.
            await AwaitCloseAnswerAsync(ct);
            return;
        }
        _session = session;
        _bucket = _budgets.Take(Identity.Username);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _writer.Stopped);
        var timing = TimerLoopAsync(linked.Token);
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
            await _sessions.CloseAsync(session);
            _budgets.Return(Identity.Username);
            await _writer.FinishAsync();
            await timing;
            _socket.Abort();
            _socket.Dispose();
        }
    }

    /// <summary>Asks the socket to close with a code and reason (1001 on shutdown: reconnect elsewhere), after what is queued.</summary>
    public void Close(int code, string reason) => _writer.Close(code, reason);

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
                            if (!_tooBig) _writer.Close((int)WebSocketCloseStatus.MessageTooBig, $"Frames are at most {Limits.FrameMaxBytes} bytes.");
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
                    _metrics.FrameReceived(null);
                    if (Admit(_bucket, 1, _options.FramesPerSecond)) _writer.Emit(FrameCodec.Error(null, ErrorCodes.BadFrame, "Frames are JSON text, not binary."));
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
        _metrics.FrameReceived(frame?.Type);
        if (frame is null)
        {
            if (Admit(_bucket, 1, _options.FramesPerSecond)) _writer.Emit(FrameCodec.Error(null, ErrorCodes.BadFrame, problem!));
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
            if (frame.Type == FrameTypes.Send) _metrics.Refuse(ErrorCodes.RateLimited);
            return ValueTask.CompletedTask;
        }
        switch (frame.Type)
        {
            case FrameTypes.Send:
                return _sending.HandleAsync(_sender, frame, ct);
            case FrameTypes.Auth:
                return new ValueTask(RenewAsync(frame.AccessToken, ct));
            default:
                _writer.Emit(FrameCodec.Error(frame.Id, ErrorCodes.BadFrame, "\"type\" must be send, ack or auth."));
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
            _writer.Emit(FrameCodec.Error(null, ErrorCodes.RateLimited, $"At most {perSecond} frames of this kind a second; frames beyond that are dropped."));
        }
        return false;
    }

    private void HandleAck(ClientFrame frame)
    {
        var ids = frame.MessageIds ?? (frame.MessageId is { } one ? [one] : []);
        if (ids.Count is 0 or > Limits.AckIdsMax || (frame.MessageId is not null && frame.MessageIds is not null))
        {
            if (Admit(_bucket, 1, _options.FramesPerSecond))
                _writer.Emit(FrameCodec.Error(null, ErrorCodes.BadFrame, $"An ack carries \"message_id\", or \"message_ids\" with 1 to {Limits.AckIdsMax} ids."));
            return;
        }
        Span<Guid> parsed = stackalloc Guid[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            if (!Guid.TryParse(ids[i], out parsed[i]))
            {
                if (Admit(_bucket, 1, _options.FramesPerSecond))
                    _writer.Emit(FrameCodec.Error(null, ErrorCodes.BadFrame, "Every message id in an ack must be a message id (UUID); nothing was acknowledged."));
                return;
            }
        }
        if (Admit(_ackBucket, ids.Count, _options.AcksPerSecond)) _session.Ack(parsed);
    }

    private async Task RenewAsync(string? token, CancellationToken ct)
    {
        var identity = await _tokens.ValidateAsync(token, ct);
        if (identity is not { } valid || valid.Username != Identity.Username || valid.Device != Identity.Device)
        {
            _writer.Emit(FrameCodec.Error(null, ErrorCodes.Unauthorized, "That access token is not valid for this user."));
            return;
        }
        if (!await _liveSessions.IsLiveAsync(token!, valid, ct))
        {
            _writer.Emit(FrameCodec.Error(null, ErrorCodes.Unauthorized, "That access token's session has ended; log in again."));
            return;
        }
        lock (_gate) _tokenExpiresAt = valid.ExpiresAt;
        _session.Session = valid.Session;
        _writer.Emit(FrameCodec.Authenticated(valid.ExpiresAt));
    }

    /// <summary>Closes the socket when its token expires; between, the session's periodic checks (<see cref="DeviceSession.TickAsync"/>).</summary>
    private async Task TimerLoopAsync(CancellationToken ct)
    {
        var untilTick = TimeSpan.Zero;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                DateTimeOffset expiresAt;
                lock (_gate) expiresAt = _tokenExpiresAt;
                var untilExpiry = expiresAt - _clock.GetUtcNow();
                if (untilExpiry <= TimeSpan.Zero)
                {
                    _writer.Close(CloseCodes.TokenExpired, "The access token expired; refresh it and reconnect.");
                    return;
                }
                var wait = untilTick < untilExpiry ? untilTick : untilExpiry;
                if (wait > TimeSpan.Zero) await Task.Delay(wait, _clock, ct);
                untilTick = await _session.TickAsync(ct);
            }
        }
        catch (OperationCanceledException)
        {
            // closing
        }
    }
}
