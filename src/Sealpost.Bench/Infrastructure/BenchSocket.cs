using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Sealpost.Bench.Infrastructure;

/// <summary>
/// A lean client of <c>/v1/ws</c>: one receive loop handing each text frame to a callback, and serialized writes
/// (WebSocket allows one writer at a time). Frames are built from bytes, not serialized objects, so the load
/// generator spends as little of the shared cores as a client can.
/// </summary>
public sealed class BenchSocket : IAsyncDisposable
{
    private static readonly byte[] SendPrefix = """{"type":"send","id":" """u8.ToArray()[..^1];
    private const int MaxAcksPerFrame = 256;
    private static readonly byte[] AckPrefix = """{"type":"ack","message_ids":["""u8.ToArray();
    private readonly ClientWebSocket _socket;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _ackBuffer = new byte[AckPrefix.Length + (MaxAcksPerFrame * 39) + 2];
    private readonly System.Collections.Concurrent.ConcurrentQueue<Guid> _acks = new();
    private int _acking;
    private byte[] _sendBuffer = new byte[512];

    private BenchSocket(ClientWebSocket socket) => _socket = socket;

    public WebSocketState State => _socket.State;

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public string? CloseDescription => _socket.CloseStatusDescription;

    public static async Task<BenchSocket> ConnectAsync(Uri endpoint, string accessToken, HttpMessageInvoker invoker, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + accessToken);
        // The server pings; a client ping as well would only add frames.
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await socket.ConnectAsync(endpoint, invoker, timeout.Token);
            return new BenchSocket(socket);
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

    /// <summary>Sends <c>{"type":"send","id":<paramref name="id"/>,…}</c>; <paramref name="tail"/> is everything after the id: <c>","to":"bob","body":"…"}</c>.</summary>
    public async ValueTask SendAsync(Guid id, ReadOnlyMemory<byte> tail, CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct);
        try
        {
            var length = SendPrefix.Length + 36 + tail.Length;
            if (_sendBuffer.Length < length) _sendBuffer = new byte[length];
            SendPrefix.CopyTo(_sendBuffer, 0);
            id.TryFormat(_sendBuffer.AsSpan(SendPrefix.Length, 36), out _);
            tail.Span.CopyTo(_sendBuffer.AsSpan(SendPrefix.Length + 36));
            await _socket.SendAsync(_sendBuffer.AsMemory(0, length), WebSocketMessageType.Text, true, ct);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Acknowledges a message. Acks that pile up while one is being written go out together in one frame
    /// (<c>message_ids</c>, up to 256), as a client that stores messages in batches would send them.
    /// </summary>
    public async ValueTask AckAsync(Guid messageId, CancellationToken ct)
    {
        _acks.Enqueue(messageId);
        if (Interlocked.CompareExchange(ref _acking, 1, 0) != 0) return;
        try
        {
            while (!_acks.IsEmpty)
            {
                var length = WriteAcks();
                if (length == 0) continue;
                await _writeLock.WaitAsync(ct);
                try
                {
                    await _socket.SendAsync(_ackBuffer.AsMemory(0, length), WebSocketMessageType.Text, true, ct);
                }
                finally
                {
                    _writeLock.Release();
                }
            }
        }
        finally
        {
            Volatile.Write(ref _acking, 0);
        }
        // An ack queued just as the loop above ended is sent by this call or by the next one.
        if (!_acks.IsEmpty) await AckAsync(Guid.Empty, ct);
    }

    private int WriteAcks()
    {
        AckPrefix.CopyTo(_ackBuffer, 0);
        var at = AckPrefix.Length;
        var count = 0;
        while (count < MaxAcksPerFrame && _acks.TryDequeue(out var id))
        {
            if (id == Guid.Empty) continue;
            if (count++ > 0) _ackBuffer[at++] = (byte)',';
            _ackBuffer[at++] = (byte)'"';
            id.TryFormat(_ackBuffer.AsSpan(at, 36), out _);
            at += 36;
            _ackBuffer[at++] = (byte)'"';
        }
        if (count == 0) return 0;
        _ackBuffer[at++] = (byte)']';
        _ackBuffer[at++] = (byte)'}';
        return at;
    }

    /// <summary>
    /// Reads frames until the socket closes or <paramref name="ct"/> fires, handing each to <paramref name="onFrame"/>
    /// with the time it was read. An idle socket holds no buffer: it waits with a zero-byte read.
    /// </summary>
    public async Task ReceiveLoopAsync(Func<BenchFrame, long, ValueTask> onFrame, CancellationToken ct)
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
                var at = Clock.Now;
                await onFrame(BenchFrame.Parse(buffer.AsMemory(0, length)), at);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    public async Task CloseAsync()
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

    public ValueTask DisposeAsync()
    {
        _socket.Abort();
        _socket.Dispose();
        _writeLock.Dispose();
        return ValueTask.CompletedTask;
    }
}

public enum FrameKind
{
    Other,
    Accepted,
    Message,
    Error,
    Malformed,
}

/// <summary>
/// A server frame, parsed only as far as a benchmark needs: kind, ids, code; <c>from</c> and <c>body</c> as slices of the
/// received bytes (valid only during the callback), so a delivered body is checked without a string per message.
/// The one hand parser of the wire (everything else reads <c>Sealpost.Protocol.ServerFrame</c> through
/// <c>SealpostJsonContext</c>): the load generator shares the two cores with the system it measures, and this parser
/// allocates nothing per message.
/// </summary>
public readonly struct BenchFrame
{
    public FrameKind Kind { get; init; }

    public Guid Id { get; init; }

    public bool HasId { get; init; }

    public Guid MessageId { get; init; }

    /// <summary>The sender's id for a delivered message (<c>client_id</c>).</summary>
    public Guid ClientId { get; init; }

    public string? Code { get; init; }

    public ReadOnlyMemory<byte> From { get; init; }

    public ReadOnlyMemory<byte> Body { get; init; }

    public static BenchFrame Parse(ReadOnlyMemory<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json.Span);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return new BenchFrame { Kind = FrameKind.Malformed };
            FrameKind kind = FrameKind.Other;
            Guid id = default, messageId = default, clientId = default;
            var hasId = false;
            string? code = null;
            ReadOnlyMemory<byte> from = default, body = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.ValueSpan;
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    reader.Skip();
                    continue;
                }
                if (name.SequenceEqual("type"u8))
                {
                    kind = reader.ValueTextEquals("message"u8) ? FrameKind.Message
                        : reader.ValueTextEquals("accepted"u8) ? FrameKind.Accepted
                        : reader.ValueTextEquals("error"u8) ? FrameKind.Error : FrameKind.Other;
                }
                else if (name.SequenceEqual("id"u8)) hasId = reader.TryGetGuid(out id);
                else if (name.SequenceEqual("message_id"u8)) reader.TryGetGuid(out messageId);
                else if (name.SequenceEqual("client_id"u8)) reader.TryGetGuid(out clientId);
                else if (name.SequenceEqual("code"u8)) code = reader.GetString();
                else if (name.SequenceEqual("from"u8)) from = json.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length);
                // Standard base64 has '/' and '+', which JSON may escape (the server writes them as they are).
                else if (name.SequenceEqual("body"u8)) body = reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : json.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length);
            }
            return new BenchFrame { Kind = kind, Id = id, HasId = hasId, MessageId = messageId, ClientId = clientId, Code = code, From = from, Body = body };
        }
        catch (JsonException)
        {
            return new BenchFrame { Kind = FrameKind.Malformed };
        }
    }
}
