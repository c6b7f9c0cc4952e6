using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Sealpost.Protocol;

namespace Sealpost.Testing;

/// <summary>
/// The one client of <c>/v1/ws</c> for the tests and the bench. It writes the frames of <see cref="Sealpost.Protocol"/>
/// through <see cref="SealpostJsonContext"/> and reads the server's as <see cref="ServerFrame"/>s kept in an inbox to
/// wait on; <see cref="Raw"/> sends and reads anything, for hostile tests. With <see cref="ProtocolClientOptions.Lean"/>
/// it is the load generator's client instead: no inbox, the caller's <see cref="ReceiveLoopAsync"/> with frames read
/// without allocating (<see cref="FrameView"/>), sends built from bytes and acks coalesced.
/// </summary>
public sealed class ProtocolClient : IAsyncDisposable
{
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(15);
    private static readonly byte[] SendPrefix = """{"type":"send","id":" """u8.ToArray()[..^1];
    private const int IdChars = 36;
    private readonly ClientWebSocket _socket;

    // A WebSocket takes one write at a time; tests write from several tasks, and the bench's acks race its sends.
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly AckCoalescer _acks;
    private readonly Channel<RawFrame>? _inbox;
    private readonly Task? _reading;
    private byte[] _sendBuffer = [];

    private ProtocolClient(ClientWebSocket socket, bool inbox)
    {
        _socket = socket;
        _acks = new AckCoalescer(socket, _writeLock);
        Raw = new RawSocket(this);
        if (!inbox) return;
        _inbox = Channel.CreateUnbounded<RawFrame>(new UnboundedChannelOptions { SingleWriter = true });
        _reading = ReadIntoInboxAsync(_inbox);
    }

    public WebSocketState State => _socket.State;

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public string? CloseDescription => _socket.CloseStatusDescription;

    /// <summary>Completes when the server closed the socket (or it broke off).</summary>
    public Task Closed => _reading ?? throw NoInbox();

    /// <summary>The same socket without the protocol: any bytes out, frames in as they came.</summary>
    public RawSocket Raw { get; }

    /// <summary>Opens a socket with <paramref name="token"/> as its bearer token (none when null: a browser's query-string token, or a test of its absence).</summary>
    public static async Task<ProtocolClient> ConnectAsync(Uri url, string? token, ProtocolClientOptions? options = null, CancellationToken ct = default)
    {
        options ??= ProtocolClientOptions.Default;
        var socket = new ClientWebSocket();
        if (token is not null) socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        if (options.KeepAliveInterval is { } keepAlive) socket.Options.KeepAliveInterval = keepAlive;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(options.ConnectTimeout);
            await socket.ConnectAsync(url, options.Invoker, timeout.Token);
            return new ProtocolClient(socket, options.Inbox);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The handler shared by every socket of a run (connection setup only; upgraded sockets are not pooled).</summary>
    public static HttpMessageInvoker CreateInvoker() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        ConnectTimeout = TimeSpan.FromSeconds(20),
        PooledConnectionLifetime = TimeSpan.Zero,
    });

    // ---- typed frames ----

    public Task SendAsync(SendFrame frame) => WriteJsonAsync(JsonSerializer.SerializeToUtf8Bytes(frame, SealpostJsonContext.Default.SendFrame));

    public Task SendAsync(AckFrame frame) => WriteJsonAsync(JsonSerializer.SerializeToUtf8Bytes(frame, SealpostJsonContext.Default.AckFrame));

    public Task SendAsync(AuthFrame frame) => WriteJsonAsync(JsonSerializer.SerializeToUtf8Bytes(frame, SealpostJsonContext.Default.AuthFrame));

    /// <summary>Sends a message and returns the server's answer to it (<c>accepted</c> or <c>error</c>). One at a time: frames read while waiting are skipped.</summary>
    public async Task<ServerFrame> SendMessageAsync(string to, string body, Guid? clientId = null)
    {
        var id = (clientId ?? Guid.NewGuid()).ToString();
        await SendAsync(new SendFrame(FrameTypes.Send, id, to, body));
        return await NextAsync(f => f.Id == id);
    }

    /// <summary>Acknowledges one message in a frame of its own.</summary>
    public Task AckAsync(string messageId) => SendAsync(new AckFrame(FrameTypes.Ack, messageId));

    /// <summary>Renews the socket's token; the answer is an <c>authenticated</c> or an <c>error</c> frame.</summary>
    public Task AuthAsync(string accessToken) => SendAsync(new AuthFrame(FrameTypes.Auth, accessToken));

    /// <summary>The next frame that matches, skipping others; fails after the timeout.</summary>
    public async Task<ServerFrame> NextAsync(Func<ServerFrame, bool>? match = null, TimeSpan? timeout = null)
    {
        var wait = timeout ?? DefaultWait;
        using var cts = new CancellationTokenSource(wait);
        while (true)
        {
            var frame = Parse(await ReadInboxAsync(wait, cts.Token));
            if (match is null || match(frame)) return frame;
        }
    }

    public Task<ServerFrame> NextOfTypeAsync(string type, TimeSpan? timeout = null) => NextAsync(f => f.Type == type, timeout);

    /// <summary>Collects every frame of a type that arrives within the time given.</summary>
    public async Task<List<ServerFrame>> CollectAsync(string type, int count, TimeSpan? timeout = null)
    {
        var found = new List<ServerFrame>();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (found.Count < count && DateTime.UtcNow < deadline)
        {
            try
            {
                found.Add(await NextOfTypeAsync(type, deadline - DateTime.UtcNow));
            }
            catch (TimeoutException)
            {
                break;
            }
        }
        return found;
    }

    /// <summary>True when no frame of the type arrives within the time given.</summary>
    public async Task<bool> NothingOfTypeAsync(string type, TimeSpan within)
    {
        try
        {
            await NextOfTypeAsync(type, within);
            return false;
        }
        catch (TimeoutException)
        {
            return true;
        }
    }

    // ---- the load generator's frames: no serializer, no allocation per message ----

    /// <summary>Sends <c>{"type":"send","id":<paramref name="id"/>,…}</c>; <paramref name="tail"/> is everything after the id, built once: <c>","to":"bob","body":"…"}</c>.</summary>
    public async ValueTask SendPrebuiltAsync(Guid id, ReadOnlyMemory<byte> tail, CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct);
        try
        {
            var length = SendPrefix.Length + IdChars + tail.Length;
            if (_sendBuffer.Length < length) _sendBuffer = new byte[Math.Max(length, 512)];
            SendPrefix.CopyTo(_sendBuffer, 0);
            id.TryFormat(_sendBuffer.AsSpan(SendPrefix.Length, IdChars), out _);
            tail.Span.CopyTo(_sendBuffer.AsSpan(SendPrefix.Length + IdChars));
            await _socket.SendAsync(_sendBuffer.AsMemory(0, length), WebSocketMessageType.Text, true, ct);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Acknowledges a message; acks that pile up while one is being written go out together (<see cref="AckCoalescer"/>).</summary>
    public ValueTask AckCoalescedAsync(Guid messageId, CancellationToken ct) => _acks.AckAsync(messageId, ct);

    /// <summary>
    /// Reads frames until the socket closes or <paramref name="ct"/> fires, handing each to <paramref name="onFrame"/>
    /// with the time it was read (<see cref="Stopwatch"/> ticks). Only for a client without an inbox.
    /// </summary>
    public Task ReceiveLoopAsync(Func<FrameView, long, ValueTask> onFrame, CancellationToken ct)
    {
        if (_inbox is not null) throw new InvalidOperationException("this client reads into its inbox; connect with Inbox = false to read with a loop of your own");
        return ReadFramesAsync((bytes, _, at) => onFrame(FrameView.Parse(bytes), at), ct);
    }

    // ---- reading ----

    // The one read loop, for the inbox and for ReceiveLoopAsync alike. An idle socket holds no buffer: it waits with a
    // zero-byte read (which also answers the server's pings), then rents one for the frame and returns it after.
    private async Task ReadFramesAsync(Func<ReadOnlyMemory<byte>, WebSocketMessageType, long, ValueTask> onFrame, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var first = await _socket.ReceiveAsync(Memory<byte>.Empty, ct);
            if (first.MessageType == WebSocketMessageType.Close) return;
            var buffer = ArrayPool<byte>.Shared.Rent(8192);
            try
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), ct);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close) return;
                await onFrame(buffer.AsMemory(0, length), result.MessageType, Stopwatch.GetTimestamp());
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private async Task ReadIntoInboxAsync(Channel<RawFrame> inbox)
    {
        try
        {
            await ReadFramesAsync((bytes, type, _) =>
            {
                inbox.Writer.TryWrite(new RawFrame(type, bytes.ToArray()));
                return ValueTask.CompletedTask;
            }, CancellationToken.None);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Broken off rather than closed: Closed completes all the same.
        }
        finally
        {
            inbox.Writer.TryComplete();
        }
    }

    internal async Task<RawFrame> NextRawAsync(TimeSpan? timeout)
    {
        var wait = timeout ?? DefaultWait;
        using var cts = new CancellationTokenSource(wait);
        return await ReadInboxAsync(wait, cts.Token);
    }

    private async Task<RawFrame> ReadInboxAsync(TimeSpan wait, CancellationToken ct)
    {
        var inbox = _inbox ?? throw NoInbox();
        try
        {
            return await inbox.Reader.ReadAsync(ct);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no matching frame within {wait.TotalSeconds} s; socket {_socket.State} {_socket.CloseStatus} {_socket.CloseStatusDescription}");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"the socket closed: {_socket.CloseStatus} {_socket.CloseStatusDescription}");
        }
    }

    private static ServerFrame Parse(RawFrame raw)
    {
        try
        {
            return JsonSerializer.Deserialize(raw.Bytes, SealpostJsonContext.Default.ServerFrame)
                ?? throw new InvalidDataException("the server sent null: " + raw.Text);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException("the server sent a frame that is not a ServerFrame: " + raw.Text, e);
        }
    }

    private static InvalidOperationException NoInbox() =>
        new("this client has no inbox (ProtocolClientOptions.Inbox is false): its frames go to ReceiveLoopAsync");

    // ---- writing and closing ----

    private Task WriteJsonAsync(byte[] json) => WriteAsync(json, WebSocketMessageType.Text, true, CancellationToken.None);

    internal async Task WriteAsync(ReadOnlyMemory<byte> bytes, WebSocketMessageType type, bool endOfMessage, CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct);
        try
        {
            await _socket.SendAsync(bytes, type, endOfMessage, ct);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Closes with the handshake: returns once the server answered (or after 5 s, aborting).</summary>
    public async Task CloseAsync()
    {
        if (_socket.State != WebSocketState.Open) return;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            _socket.Abort();
        }
    }

    /// <summary>
    /// Sends the close frame and returns at once: for a caller running <see cref="ReceiveLoopAsync"/>, whose loop reads
    /// the server's answer and ends. Hundreds of sockets close this way in parallel without waiting on each other.
    /// </summary>
    public async Task CloseOutputAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            if (_socket.State == WebSocketState.Open) await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    /// <summary>
    /// With an inbox (a test's client), closes with the handshake first, so the server has seen the socket go before
    /// the test's next step. Without one, the caller closed it already (<see cref="CloseOutputAsync"/>): only dropped.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_inbox is not null) await CloseAsync();
        else _socket.Abort();
        _socket.Dispose();
        _writeLock.Dispose();
    }
}
