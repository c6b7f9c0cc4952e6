using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Sealpost.Client.Accounts;
using Sealpost.Protocol;

namespace Sealpost.Client.Messaging;

/// <summary>
/// The WebSocket to the messages service. One reader loop owns receiving; every write goes through one lock, which
/// the reader takes only to answer a close (with a timeout), so a socket the server stops reading cannot deadlock us.
/// When the socket drops (1001 from an instance going away, a network failure, 4401 for an expired token) it
/// reconnects with backoff and sends again every send not yet accepted, under the same client id, which the server
/// turns into the same message id.
/// </summary>
internal sealed class MessageConnection : IAsyncDisposable
{
    /// <summary>The largest frame read: a 64 KiB body plus the rest of a message frame, with room to spare.</summary>
    private const int MaxFrameBytes = 128 * 1024;

    private readonly Uri _endpoint;
    private readonly Func<string?, CancellationToken, Task<AccessToken>> _tokens;
    private readonly ConnectionOptions _options;
    private readonly Channel<MessageFrame> _incoming = Channel.CreateUnbounded<MessageFrame>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly ConcurrentDictionary<string, PendingSend> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private ClientWebSocket? _socket;
    private Task? _loop;
    private Exception? _fault;
    private volatile bool _closing;
    private volatile ConnectionState _state;
    private volatile AccessToken? _lastToken;
    private long _sequence;

    /// <param name="server">The server's base address (http or https); the socket is <c>/v1/ws</c> on it.</param>
    /// <param name="tokens">Gives a valid access token; given the token just refused, it must get a new one.</param>
    /// <param name="options">Timeouts, backoff and retries; null for the defaults.</param>
    public MessageConnection(Uri server, Func<string?, CancellationToken, Task<AccessToken>> tokens, ConnectionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        ServerTransport.EnsureSafe(server);
        var builder = new UriBuilder(new Uri(server, "v1/ws")) { Scheme = server.Scheme == Uri.UriSchemeHttps ? "wss" : "ws" };
        _endpoint = builder.Uri;
        _tokens = tokens;
        _options = options ?? new ConnectionOptions();
    }

    /// <summary>Stands in the <see cref="Incoming"/> stream where the server said the mailbox is drained.</summary>
    public static readonly MessageFrame SyncedMarker = new(FrameTypes.Synced, "", "", null, "", default);

    /// <summary>
    /// Messages in arrival order, with <see cref="SyncedMarker"/> where the mailbox had been drained; the channel ends with
    /// the error that stopped the connection.
    /// </summary>
    public ChannelReader<MessageFrame> Incoming => _incoming.Reader;

    public ConnectionState State => _state;

    /// <summary>The socket is down and will be opened again (after a close, or after an attempt to open it failed).</summary>
    public event Action<ConnectionLost>? Reconnecting;

    /// <summary>The socket is open again; the sends still waiting for an answer go out again on it, in their order.</summary>
    public event Action? Reconnected;

    /// <summary>The connection ended for good: null when disposed, else the failure it does not recover from.</summary>
    public event Action<Exception?>? Closed;

    /// <summary>Things a person may want to know (a retried send, a stray error frame); never a token or a body.</summary>
    public event Action<MessagingWarning>? Warning;

    /// <summary>The code of every <c>error</c> frame the server sends, retried or not (for diagnostics and tests).</summary>
    public event Action<string>? ServerError;

    public bool IsConnected => _socket?.State == WebSocketState.Open;

    /// <summary>Connects, trying a few times, then keeps the connection up in the background until disposed.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        if (_loop is not null) return;
        _state = ConnectionState.Connecting;
        ClientWebSocket? socket = null;
        for (var attempt = 1; socket is null; attempt++)
        {
            try
            {
                socket = await ConnectAsync(null, ct).ConfigureAwait(false);
            }
            catch (SealpostException e) when (e.Kind == ErrorKind.Network && attempt < _options.InitialAttempts)
            {
                await Task.Delay(Backoff.Delay(attempt, _options.BackoffBase, _options.BackoffCap), ct).ConfigureAwait(false);
            }
        }
        _state = ConnectionState.Connected;
        _loop = Task.Run(() => SuperviseAsync(socket), CancellationToken.None);
    }

    /// <summary>Sends an envelope and waits for <c>accepted</c>, across reconnects; a refusal that retrying cannot fix throws.</summary>
    public Task<AcceptedFrame> SendAsync(string clientId, string to, string body, CancellationToken ct) =>
        SendAsync(new SendFrame(FrameTypes.Send, clientId, to, body), ct);

    /// <summary>
    /// Sends one message (one envelope, or one per device) and waits for <c>accepted</c>, across reconnects; a refusal that
    /// retrying cannot fix throws (<c>stale_devices</c> with <see cref="SealpostException.Code"/> set: seal again).
    /// </summary>
    public async Task<AcceptedFrame> SendAsync(SendFrame frame, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ThrowIfFaulted();
        var clientId = frame.Id;
        var json = JsonSerializer.SerializeToUtf8Bytes(frame, SealpostJsonContext.Default.SendFrame);
        var pending = new PendingSend(json, Interlocked.Increment(ref _sequence));
        if (!_pending.TryAdd(clientId, pending)) throw new InvalidOperationException($"A send with client id {clientId} is already in flight.");
        try
        {
            ThrowIfFaulted();
            for (var attempt = 1; ; attempt++)
            {
                var outcome = pending.Arm();
                // A failed write is not an error: the socket is down and the reconnect sends every pending frame. In case
                // the reconnect's resend ran just before this send was added, keep trying until an answer comes.
                while (!await WriteAsync(_socket, json, ct).ConfigureAwait(false))
                {
                    if (await Task.WhenAny(outcome, Task.Delay(500, ct)).ConfigureAwait(false) == outcome) break;
                }
                var result = await outcome.WaitAsync(ct).ConfigureAwait(false);
                if (result.Accepted is { } accepted) return accepted;
                var error = result.Error!;
                if (error.Code is ErrorCodes.RateLimited or ErrorCodes.Internal && attempt <= _options.SendRetries)
                {
                    Warning?.Invoke(new MessagingWarning.SendRetrying(frame.To, error.Code));
                    await Task.Delay(Backoff.Delay(attempt, _options.BackoffBase * 4, _options.BackoffCap), ct).ConfigureAwait(false);
                    continue;
                }
                throw SendRefused(error);
            }
        }
        finally
        {
            _pending.TryRemove(clientId, out _);
        }
    }

    /// <summary>Acknowledges a message: the server deletes it. Call only once it is stored. False when the socket was down (it comes again).</summary>
    public Task<bool> AckAsync(string messageId, CancellationToken ct) =>
        WriteAsync(_socket, JsonSerializer.SerializeToUtf8Bytes(new AckFrame(FrameTypes.Ack, messageId), SealpostJsonContext.Default.AckFrame), ct);

    public async ValueTask DisposeAsync()
    {
        _closing = true;
        if (_socket is { State: WebSocketState.Open } socket)
        {
            // Close politely after whatever writes (acks) are queued, so the server handles them before it sees the close.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _writeLock.WaitAsync(timeout.Token).ConfigureAwait(false);
                try
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token).ConfigureAwait(false);
                }
                finally
                {
                    _writeLock.Release();
                }
                if (_loop is not null) await _loop.WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or TimeoutException or ObjectDisposedException)
            {
                // Going away anyway; the server treats a dropped socket like a close.
            }
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // stopped as asked
            }
        }
        _socket?.Dispose();
        _stopping.Dispose();
        _writeLock.Dispose();
    }

    private async Task SuperviseAsync(ClientWebSocket? socket)
    {
        var attempt = 0;
        string? rejected = null;
        try
        {
            while (!_closing && !_stopping.IsCancellationRequested)
            {
                if (socket is null)
                {
                    try
                    {
                        socket = await ConnectAsync(rejected, _stopping.Token).ConfigureAwait(false);
                        rejected = null;
                        _state = ConnectionState.Connected;
                        Reconnected?.Invoke();
                    }
                    catch (SealpostException e) when (e.Kind == ErrorKind.Network)
                    {
                        var wait = Backoff.Delay(++attempt, _options.BackoffBase, _options.BackoffCap);
                        Reconnecting?.Invoke(new ConnectionLost(null, null, e, wait));
                        await Task.Delay(wait, _stopping.Token).ConfigureAwait(false);
                        continue;
                    }
                }
                _socket = socket;
                var expiresAt = _lastToken?.ExpiresAt ?? DateTimeOffset.UtcNow;
                using var renewing = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                var renew = RenewAsync(socket, expiresAt, renewing.Token);
                // In the order they were first sent: the server keeps one socket's order, so resends keep it too.
                foreach (var send in _pending.Values.OrderBy(p => p.Sequence)) await WriteAsync(socket, send.Json, _stopping.Token).ConfigureAwait(false);
                var (status, connectedLongEnough) = await ReadAsync(socket).ConfigureAwait(false);
                // The server's own words, made safe: it says why (a session that ended, an instance going away).
                var reason = socket.CloseStatusDescription is { Length: > 0 } said ? Sanitize(said) : null;
                await renewing.CancelAsync().ConfigureAwait(false);
                await renew.ConfigureAwait(false);
                _socket = null;
                socket.Dispose();
                socket = null;
                if (_closing) break;

                if (status == (WebSocketCloseStatus)CloseCodes.TokenExpired) rejected = _lastToken?.Value;
                attempt = connectedLongEnough ? 0 : attempt + 1;
                var delay = Backoff.Delay(attempt, _options.BackoffBase, _options.BackoffCap);
                _state = ConnectionState.Reconnecting;
                Reconnecting?.Invoke(new ConnectionLost((int?)status, reason, null, delay));
                await Task.Delay(delay, _stopping.Token).ConfigureAwait(false);
            }
            Close(null);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            Close(null);
        }
        catch (Exception e)
        {
            Fault(e);
        }
        finally
        {
            socket?.Dispose();
        }
    }

    private async Task<ClientWebSocket> ConnectAsync(string? rejected, CancellationToken ct)
    {
        for (var tries = 0; ; tries++)
        {
            var token = await _tokens(rejected, ct).ConfigureAwait(false);
            _lastToken = token;
            var socket = new ClientWebSocket();
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token.Value);
            socket.Options.CollectHttpResponseDetails = true;
            socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
            if (_options.CertificateCheck is { } check) socket.Options.RemoteCertificateValidationCallback = check;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.ConnectTimeout);
            try
            {
                await socket.ConnectAsync(_endpoint, timeout.Token).ConfigureAwait(false);
                return socket;
            }
            catch (Exception e) when (e is WebSocketException or HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                var status = socket.HttpStatusCode;
                socket.Dispose();
                if (status == HttpStatusCode.Unauthorized)
                {
                    // The token may have been revoked or the clocks disagree: one forced refresh, then it is the session.
                    if (tries == 0) { rejected = token.Value; continue; }
                    throw new SealpostException(ErrorKind.Auth, ClientErrorCodes.SessionRefused, "The messages service refused the session.", e) { ServerCode = ErrorCodes.Unauthorized };
                }
                var what = status == 0 ? e.Message : $"HTTP {(int)status}";
                throw new SealpostException(ErrorKind.Network, ClientErrorCodes.SocketUnreachable, $"Cannot open the message socket at {_endpoint}: {what}", e);
            }
        }
    }

    /// <summary>Renews the token on the open socket shortly before it expires, so a long <c>listen</c> is not cut off with 4401.</summary>
    private async Task RenewAsync(ClientWebSocket socket, DateTimeOffset expiresAt, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var wait = expiresAt - DateTimeOffset.UtcNow - SessionKeeper.RefreshMargin + TimeSpan.FromSeconds(1);
                await Task.Delay(wait < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait, ct).ConfigureAwait(false);
                var token = await _tokens(null, ct).ConfigureAwait(false);
                _lastToken = token;
                await WriteAsync(socket, JsonSerializer.SerializeToUtf8Bytes(new AuthFrame(FrameTypes.Auth, token.Value), SealpostJsonContext.Default.AuthFrame), ct)
                    .ConfigureAwait(false);
                expiresAt = token.ExpiresAt;
            }
        }
        catch (OperationCanceledException)
        {
            // the socket closed
        }
        catch (SealpostException e)
        {
            // Without a token the server ends the socket with 4401 and the reconnect reports the real problem.
            Warning?.Invoke(new MessagingWarning.TokenNotRenewed(e));
        }
    }

    /// <summary>The one reader. Returns the close status (null when the socket just died) and whether it lived long enough to reset the backoff.</summary>
    private async Task<(WebSocketCloseStatus? Status, bool Stable)> ReadAsync(ClientWebSocket socket)
    {
        var started = DateTime.UtcNow;
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.GetMemory(16 * 1024), _stopping.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await AnswerCloseAsync(socket).ConfigureAwait(false);
                    return (socket.CloseStatus, DateTime.UtcNow - started > TimeSpan.FromSeconds(10));
                }
                buffer.Advance(result.Count);
                if (buffer.WrittenCount > MaxFrameBytes)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "frame too big", _stopping.Token).ConfigureAwait(false);
                    return (WebSocketCloseStatus.MessageTooBig, false);
                }
                if (!result.EndOfMessage) continue;
                if (result.MessageType == WebSocketMessageType.Text) Dispatch(buffer.WrittenSpan);
                buffer.ResetWrittenCount();
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException || (e is OperationCanceledException && !_stopping.IsCancellationRequested))
        {
            return (null, DateTime.UtcNow - started > TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>Completes the close handshake the server started, so it sees a clean close rather than a dropped connection.</summary>
    private async Task AnswerCloseAsync(ClientWebSocket socket)
    {
        if (socket.State != WebSocketState.CloseReceived) return;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _writeLock.WaitAsync(timeout.Token).ConfigureAwait(false);
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The server is going away anyway.
        }
    }

    private void Dispatch(ReadOnlySpan<byte> json)
    {
        ServerFrame? frame;
        try
        {
            frame = JsonSerializer.Deserialize(json, SealpostJsonContext.Default.ServerFrame);
        }
        catch (JsonException)
        {
            Warning?.Invoke(new MessagingWarning.UnreadableFrame());
            return;
        }
        switch (frame?.Type)
        {
            case FrameTypes.Accepted when frame is { Id: { } id, MessageId: { } messageId, SentAt: { } sentAt }:
                if (_pending.TryGetValue(id, out var send)) send.Complete(new SendOutcome(new AcceptedFrame(FrameTypes.Accepted, id, messageId, sentAt), null));
                break;
            case FrameTypes.Error when frame.Code is { } code:
                var error = new ErrorFrame(FrameTypes.Error, frame.Id, code, frame.Message ?? "", frame.RecipientDevices, frame.OwnDevices);
                ServerError?.Invoke(code);
                if (error.Id is { } errorId && _pending.TryGetValue(errorId, out var failed)) failed.Complete(new SendOutcome(null, error));
                else Warning?.Invoke(new MessagingWarning.ServerReported(error.Code, error.Message));
                break;
            case FrameTypes.Message when frame is { MessageId.Length: > 0, From.Length: > 0, Body: { } body, SentAt: { } at }:
                _incoming.Writer.TryWrite(new MessageFrame(FrameTypes.Message, frame.MessageId, frame.From, frame.ClientId, body, at, frame.FromDevice));
                break;
            case FrameTypes.Synced:
                // In the same stream as the messages, so a reader knows everything before it has been seen.
                _incoming.Writer.TryWrite(SyncedMarker);
                break;
            default:
                // "authenticated" and types this version does not know need nothing from us.
                break;
        }
    }

    private async Task<bool> WriteAsync(ClientWebSocket? socket, byte[] json, CancellationToken ct)
    {
        if (socket is not { State: WebSocketState.Open }) return false;
        try
        {
            await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        try
        {
            await socket.SendAsync(json, WebSocketMessageType.Text, endOfMessage: true, ct).ConfigureAwait(false);
            return true;
        }
        // A socket that breaks under a write may also report it as a cancellation (with the IOException inside).
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return false;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void Fault(Exception e)
    {
        _fault = e;
        foreach (var send in _pending.Values) send.Fail(e);
        // Last, so whoever hears of it finds every waiting send already failed.
        Close(e);
    }

    /// <summary>Ends the stream of messages (with the failure, if there is one) and says the connection is over.</summary>
    private void Close(Exception? failure)
    {
        _state = ConnectionState.Closed;
        _incoming.Writer.TryComplete(failure);
        Closed?.Invoke(failure);
    }

    private void ThrowIfFaulted()
    {
        if (_fault is { } fault) throw fault is SealpostException s ? s : new SealpostException(ErrorKind.Network, ClientErrorCodes.ConnectionFailed, "The message connection failed.", fault);
    }

    private static SealpostException SendRefused(ErrorFrame error)
    {
        var kind = error.Code switch
        {
            ErrorCodes.UnknownRecipient => ErrorKind.NotFound,
            ErrorCodes.Unauthorized => ErrorKind.Auth,
            ErrorCodes.TooLarge or ErrorCodes.BadFrame => ErrorKind.Invalid,
            ErrorCodes.MailboxFull or ErrorCodes.RateLimited or ErrorCodes.StaleDevices => ErrorKind.Refused,
            _ => ErrorKind.Network,
        };
        var devices = error.Code == ErrorCodes.StaleDevices
            ? $" (it lists the recipient's devices {Ids(error.RecipientDevices)} and your other devices {Ids(error.OwnDevices)})"
            : "";
        return new SealpostException(kind, error.Code, $"The server refused the message ({error.Code}): {error.Message}{devices}") { ServerCode = error.Code };

        static string Ids(IReadOnlyList<int>? ids) => ids is null or [] ? "none" : string.Join(", ", ids);
    }

    private static string Sanitize(string text) => new([.. text.Take(200).Select(c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format ? '?' : c)]);

    private sealed record SendOutcome(AcceptedFrame? Accepted, ErrorFrame? Error);

    /// <summary>A send waiting for its answer; re-armed for each retry so a late answer to an old attempt still counts.</summary>
    private sealed class PendingSend(byte[] json, long sequence)
    {
        public long Sequence { get; } = sequence;

        private TaskCompletionSource<SendOutcome> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public byte[] Json { get; } = json;

        public Task<SendOutcome> Arm()
        {
            var fresh = new TaskCompletionSource<SendOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _outcome, fresh);
            return fresh.Task;
        }

        public void Complete(SendOutcome outcome) => Volatile.Read(ref _outcome).TrySetResult(outcome);

        public void Fail(Exception e) => Volatile.Read(ref _outcome).TrySetException(e);
    }
}
