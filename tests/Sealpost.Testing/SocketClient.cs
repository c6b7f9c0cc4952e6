using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Sealpost.Testing;

/// <summary>A raw WebSocket client for tests: sends any text or bytes and collects what the server says, frame by frame.</summary>
public sealed class SocketClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly SemaphoreSlim _writing = new(1, 1);
    private Task _reader = Task.CompletedTask;

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public string? CloseReason => _socket.CloseStatusDescription;

    public WebSocketState State => _socket.State;

    /// <summary>Completes when the server closed the socket (or it broke).</summary>
    public Task Closed => _reader;

    public static async Task<SocketClient> ConnectAsync(Uri url, string? token)
    {
        var client = new SocketClient();
        if (token is not null) client._socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client._socket.ConnectAsync(url, timeout.Token);
        client._reader = client.ReadAsync();
        return client;
    }

    public Task SendTextAsync(string text) => WriteAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    public Task SendBinaryAsync(byte[] bytes) => WriteAsync(bytes, WebSocketMessageType.Binary);

    // A WebSocket takes one write at a time; tests may write from several tasks.
    private async Task WriteAsync(byte[] bytes, WebSocketMessageType type)
    {
        await _writing.WaitAsync();
        try
        {
            await _socket.SendAsync(bytes, type, true, CancellationToken.None);
        }
        finally
        {
            _writing.Release();
        }
    }

    public Task SendJsonAsync(object frame) => SendTextAsync(JsonSerializer.Serialize(frame));

    /// <summary>Sends a message and returns the server's answer to it (<c>accepted</c> or <c>error</c>). One at a time: frames read while waiting are skipped.</summary>
    public async Task<JsonElement> SendMessageAsync(string to, string body, Guid? clientId = null)
    {
        var id = (clientId ?? Guid.NewGuid()).ToString();
        await SendJsonAsync(new Dictionary<string, string> { ["type"] = "send", ["id"] = id, ["to"] = to, ["body"] = body });
        return await NextAsync(f => f.TryGetProperty("id", out var i) && i.GetString() == id);
    }

    public Task AckAsync(string messageId) => SendJsonAsync(new Dictionary<string, string> { ["type"] = "ack", ["message_id"] = messageId });

    /// <summary>The next frame that matches, skipping others; fails after the timeout.</summary>
    public async Task<JsonElement> NextAsync(Func<JsonElement, bool>? match = null, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        try
        {
            while (true)
            {
                var frame = await _frames.Reader.ReadAsync(cts.Token);
                if (match is null || match(frame)) return frame;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no matching frame within {(timeout ?? TimeSpan.FromSeconds(15)).TotalSeconds} s; socket {_socket.State} {_socket.CloseStatus} {_socket.CloseStatusDescription}");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"the socket closed: {_socket.CloseStatus} {_socket.CloseStatusDescription}");
        }
    }

    public Task<JsonElement> NextOfTypeAsync(string type, TimeSpan? timeout = null) =>
        NextAsync(f => f.GetProperty("type").GetString() == type, timeout);

    /// <summary>Collects every frame of a type that arrives within the time given.</summary>
    public async Task<List<JsonElement>> CollectAsync(string type, int count, TimeSpan? timeout = null)
    {
        var found = new List<JsonElement>();
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

    public async Task CloseAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
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
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (true)
            {
                var length = 0;
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close) break;
                using var doc = JsonDocument.Parse(buffer.AsMemory(0, length));
                await _frames.Writer.WriteAsync(doc.RootElement.Clone());
            }
        }
        catch (WebSocketException)
        {
            // broken off
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _socket.Dispose();
    }
}
