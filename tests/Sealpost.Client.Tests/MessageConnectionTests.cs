using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Sealpost.Client.Accounts;
using Sealpost.Client.Messaging;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Client.Tests;

/// <summary>
/// A scripted stand-in for the messages service, so the client's socket behaviour (resend after a reconnect, token
/// refresh on 401 and 4401, acks) is tested frame by frame. The real service is exercised by the end-to-end test.
/// </summary>
internal sealed class ScriptedServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Channel<(WebSocket Socket, string Token)> _connections = Channel.CreateUnbounded<(WebSocket, string)>();
    private readonly Task _loop;

    public ScriptedServer()
    {
        var port = Ports.Free();
        BaseUrl = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(BaseUrl.ToString());
        _listener.Start();
        _loop = AcceptAsync();
    }

    public Uri BaseUrl { get; }

    /// <summary>Tokens the upgrade accepts; others get 401 before the upgrade, as the real service does.</summary>
    public HashSet<string> ValidTokens { get; } = [];

    public async Task<(WebSocket Socket, string Token)> NextConnectionAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _connections.Reader.ReadAsync(timeout.Token);
    }

    public static async Task<JsonElement> ReadAsync(WebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[128 * 1024];
        var count = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(count), timeout.Token);
            count += result.Count;
            if (result.EndOfMessage) return JsonDocument.Parse(buffer.AsMemory(0, count)).RootElement.Clone();
        }
    }

    public static Task SendAsync(WebSocket socket, string json) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
        {
            // stopped
        }
    }

    private async Task AcceptAsync()
    {
        while (_listener.IsListening)
        {
            var context = await _listener.GetContextAsync();
            var token = context.Request.Headers["Authorization"]?.Replace("Bearer ", "", StringComparison.Ordinal) ?? "";
            if (!context.Request.IsWebSocketRequest || !ValidTokens.Contains(token))
            {
                context.Response.StatusCode = 401;
                context.Response.Close();
                continue;
            }
            var socket = await context.AcceptWebSocketAsync(null);
            await _connections.Writer.WriteAsync((socket.WebSocket, token));
        }
    }
}

public sealed class MessageConnectionTests : IAsyncLifetime
{
    private static readonly ConnectionOptions Fast = new() { BackoffBase = TimeSpan.FromMilliseconds(20), BackoffCap = TimeSpan.FromMilliseconds(200) };
    private readonly ScriptedServer _server = new();
    private readonly List<string?> _refused = [];
    private int _issued;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>Hands out t1, t2, … : a new one only when told the current one was refused, as SessionKeeper does.</summary>
    private Task<AccessToken> Tokens(string? refused, CancellationToken ct)
    {
        lock (_refused)
        {
            if (_issued == 0 || refused is not null)
            {
                _issued++;
                _refused.Add(refused);
            }
            return Task.FromResult(new AccessToken($"t{_issued}", DateTimeOffset.UtcNow.AddMinutes(10)));
        }
    }

    [Fact]
    public async Task A_send_cut_off_by_a_going_away_server_is_sent_again_with_the_same_client_id()
    {
        _server.ValidTokens.Add("t1");
        await using var connection = new MessageConnection(_server.BaseUrl, Tokens, Fast);
        await connection.StartAsync(default);
        var (first, _) = await _server.NextConnectionAsync();

        var sending = connection.SendAsync("4a1e2b9c-0000-7000-8000-000000000001", "bob", "U1BF", default);
        var frame = await ScriptedServer.ReadAsync(first);
        await first.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, "going away", default);
        var (second, _) = await _server.NextConnectionAsync();
        var again = await ScriptedServer.ReadAsync(second);
        await ScriptedServer.SendAsync(second, """{"type":"accepted","id":"4a1e2b9c-0000-7000-8000-000000000001","message_id":"m-1","sent_at":"2025-01-01T00:00:00Z"}""");
        var accepted = await sending.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("send", frame.GetProperty("type").GetString());
        Assert.Equal("bob", frame.GetProperty("to").GetString());
        Assert.Equal(frame.GetProperty("id").GetString(), again.GetProperty("id").GetString());
        Assert.Equal("m-1", accepted.MessageId);
    }

    [Fact]
    public async Task A_refused_token_is_refreshed_once_before_the_upgrade()
    {
        _server.ValidTokens.Add("t2");
        await using var connection = new MessageConnection(_server.BaseUrl, Tokens, Fast);

        await connection.StartAsync(default);
        var (_, token) = await _server.NextConnectionAsync();

        Assert.Equal("t2", token);
        Assert.Equal([null, "t1"], _refused);
    }

    [Fact]
    public async Task A_session_the_server_keeps_refusing_is_an_auth_error()
    {
        await using var connection = new MessageConnection(_server.BaseUrl, Tokens, Fast);

        var e = await Assert.ThrowsAsync<SealpostException>(() => connection.StartAsync(default));

        Assert.Equal(ErrorKind.Auth, e.Kind);
        Assert.Equal((ClientErrorCodes.SessionRefused, "unauthorized"), (e.Code, e.ServerCode));
    }

    [Fact]
    public async Task Close_4401_reconnects_with_a_fresh_token()
    {
        _server.ValidTokens.UnionWith(["t1", "t2"]);
        await using var connection = new MessageConnection(_server.BaseUrl, Tokens, Fast);
        await connection.StartAsync(default);
        var (first, _) = await _server.NextConnectionAsync();

        await first.CloseAsync((WebSocketCloseStatus)CloseCodes.TokenExpired, "token expired", default);
        var (_, token) = await _server.NextConnectionAsync();

        Assert.Equal("t2", token);
    }

    [Fact]
    public async Task Messages_arrive_in_order_and_acks_go_back()
    {
        _server.ValidTokens.Add("t1");
        await using var connection = new MessageConnection(_server.BaseUrl, Tokens, Fast);
        await connection.StartAsync(default);
        var (socket, _) = await _server.NextConnectionAsync();

        await ScriptedServer.SendAsync(socket, """{"type":"message","message_id":"m1","from":"alice","body":"AAAA","sent_at":"2025-01-01T00:00:00Z"}""");
        await ScriptedServer.SendAsync(socket, """{"type":"authenticated","expires_at":"2025-01-01T00:10:00Z"}""");
        await ScriptedServer.SendAsync(socket, """{"type":"message","message_id":"m2","from":"alice","body":"AAAA","sent_at":"2025-01-01T00:00:01Z"}""");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var m1 = await connection.Incoming.ReadAsync(timeout.Token);
        var m2 = await connection.Incoming.ReadAsync(timeout.Token);
        Assert.True(await connection.AckAsync(m1.MessageId, default));
        var ack = await ScriptedServer.ReadAsync(socket);

        Assert.Equal(["m1", "m2"], new[] { m1.MessageId, m2.MessageId });
        Assert.Equal("ack", ack.GetProperty("type").GetString());
        Assert.Equal("m1", ack.GetProperty("message_id").GetString());
    }

    [Fact]
    public async Task A_refusal_that_retrying_cannot_fix_is_thrown_with_its_code()
    {
        _server.ValidTokens.Add("t1");
        await using var connection = new MessageConnection(_server.BaseUrl, Tokens, Fast);
        await connection.StartAsync(default);
        var (socket, _) = await _server.NextConnectionAsync();

        var sending = connection.SendAsync("4a1e2b9c-0000-7000-8000-000000000002", "nobody", "U1BF", default);
        var frame = await ScriptedServer.ReadAsync(socket);
        await ScriptedServer.SendAsync(socket, $$"""{"type":"error","id":"{{frame.GetProperty("id").GetString()}}","code":"unknown_recipient","message":"No such user."}""");
        var e = await Assert.ThrowsAsync<SealpostException>(() => sending.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Equal("unknown_recipient", e.Code);
    }

    [Fact]
    public async Task A_close_is_reported_with_the_servers_status_and_words_then_the_reconnect_and_at_the_end_the_close()
    {
        _server.ValidTokens.Add("t1");
        var connection = new MessageConnection(_server.BaseUrl, Tokens, Fast);
        var lost = new TaskCompletionSource<ConnectionLost>(TaskCreationOptions.RunContinuationsAsynchronously);
        var back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var closed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Reconnecting += l => lost.TrySetResult(l);
        connection.Reconnected += () => back.TrySetResult();
        connection.Closed += e => closed.TrySetResult(e);
        Assert.Equal(ConnectionState.Disconnected, connection.State);

        await connection.StartAsync(default);
        var started = connection.State;
        var (first, _) = await _server.NextConnectionAsync();
        await first.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, "instance stopping", default);
        var reported = await lost.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await _server.NextConnectionAsync();
        await back.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var reconnected = connection.State;
        await connection.DisposeAsync();

        Assert.Equal(ConnectionState.Connected, started);
        Assert.Equal(new ConnectionLost(1001, "instance stopping", null, reported.RetryIn), reported);
        Assert.Equal(ConnectionState.Connected, reconnected);
        Assert.Null(await closed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(ConnectionState.Closed, connection.State);
    }

    [Fact]
    public void Backoff_grows_and_stays_between_half_and_all_of_its_ceiling()
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var ceiling = Math.Min(Backoff.Cap.TotalMilliseconds, Backoff.Base.TotalMilliseconds * Math.Pow(2, attempt));
            var delay = Backoff.Delay(attempt).TotalMilliseconds;
            Assert.InRange(delay, ceiling / 2, ceiling);
        }
    }
}
