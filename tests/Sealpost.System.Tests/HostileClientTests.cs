using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Sealpost.Testing;

namespace Sealpost.System.Tests;

/// <summary>
/// Misbehaving clients all at once, while a well-behaved pair keeps exchanging messages: the service stays
/// responsive for the pair, and each attack gets its bounded answer.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class HostileClientTests(FaultStack stack) : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, byte[]> _directory = new();
    private List<Peer> _pair = [];

    public async Task InitializeAsync()
    {
        _pair = await Peer.CreateAsync(stack, 2, _directory);
        foreach (var peer in _pair) peer.Start();
    }

    public async Task DisposeAsync()
    {
        foreach (var peer in _pair) await peer.DisposeAsync();
    }

    [Fact]
    public async Task A_well_behaved_pair_keeps_talking_through_floods_slow_sockets_non_readers_and_password_guessing()
    {
        var traffic = new Traffic();
        var talking = traffic.RunAsync(_pair, perPeer: 50, concurrency: 2);

        var (refused, otherwise) = await UnauthenticatedUpgradesAsync(2000, parallel: 50);
        var slowClosed = await SlowSocketsAsync(count: 5);
        var nonReader = await NonReaderIsDroppedAsync();
        var throttled = await GuessPasswordsAsync(attempts: 12);

        await talking;
        var (delivered, missing, wrong) = await traffic.SettleAsync(_pair, TimeSpan.FromSeconds(60));

        Assert.True(refused == 2000 && otherwise == 0, $"of 2000 upgrades without a token, {refused} got 401 and {otherwise} something else");
        Assert.True(slowClosed == 5, $"{slowClosed} of 5 one-byte-a-second sockets were cut off");
        Assert.True(nonReader.Dropped, "a socket that never reads was not disconnected");
        Assert.True(nonReader.StillStored == nonReader.Sent, $"{nonReader.Sent} messages sent to the non-reader, {nonReader.StillStored} still in its mailbox");
        Assert.True(throttled, "guessing passwords was never answered with 429");
        Assert.True(traffic.Accepted == 100 && delivered == 100 && missing == 0 && wrong == 0,
            $"well-behaved pair: sent {traffic.Sent}, accepted {traffic.Accepted}, delivered {delivered}, missing {missing}, wrong {wrong}");
    }

    private async Task<(int Refused, int Otherwise)> UnauthenticatedUpgradesAsync(int count, int parallel)
    {
        int refused = 0, otherwise = 0;
        using var gate = new SemaphoreSlim(parallel);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            await gate.WaitAsync();
            try
            {
                using var socket = new ClientWebSocket();
                await socket.ConnectAsync(stack.SocketUrl(), CancellationToken.None);
                Interlocked.Increment(ref otherwise);
            }
            catch (WebSocketException e) when (e.Message.Contains("401", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref refused);
            }
            catch (WebSocketException)
            {
                Interlocked.Increment(ref otherwise);
            }
            finally
            {
                gate.Release();
            }
        }));
        return (refused, otherwise);
    }

    /// <summary>Sockets that send their upgrade request one byte a second; HAProxy's request timeout cuts them off.</summary>
    private async Task<int> SlowSocketsAsync(int count)
    {
        var request = Encoding.ASCII.GetBytes("GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        var results = await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, stack.HaproxyPort);
            var stream = client.GetStream();
            try
            {
                // At most 30 bytes, 30 seconds: well past HAProxy's 10 s `timeout http-request`.
                foreach (var b in request.Take(30))
                {
                    await stream.WriteAsync(new[] { b });
                    await Task.Delay(1000);
                    if (client.Client.Poll(0, SelectMode.SelectRead)) return true;
                }
            }
            catch (IOException)
            {
                return true;
            }
            return false;
        }));
        return results.Count(closed => closed);
    }

    /// <summary>A socket that never reads, sent more than its buffers hold: the server drops it, and keeps the messages.</summary>
    private async Task<(bool Dropped, int Sent, long StillStored)> NonReaderIsDroppedAsync()
    {
        var sender = await stack.Users.Api.NewUserAsync("flooder");
        var victim = await stack.Users.Api.NewUserAsync("sleeper");
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await raw.ConnectAsync(IPAddress.Loopback, stack.Messages[0].Port);
        var handshake = $"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {Convert.ToBase64String(Guid.NewGuid().ToByteArray())}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {victim.AccessToken}\r\n\r\n";
        await raw.SendAsync(Encoding.ASCII.GetBytes(handshake));
        var head = new byte[1024];
        var read = await raw.ReceiveAsync(head);
        Assert.True(Encoding.ASCII.GetString(head, 0, read).StartsWith("HTTP/1.1 101", StringComparison.Ordinal),
            Encoding.ASCII.GetString(head, 0, read) + "\n" + stack.Messages[0].RecentWarnings);

        const int sent = 100;
        await using (var flooder = await ProtocolClient.ConnectAsync(stack.SocketUrl(1), sender.AccessToken))
        {
            for (var i = 0; i < sent; i++)
                Assert.Equal("accepted", (await flooder.SendMessageAsync(victim.Username, Convert.ToBase64String(new byte[48 * 1024]))).Type);
        }

        // Now read what the kernel buffered: the server must have cut the socket off (send timeout 3 s here).
        var dropped = false;
        var buffer = new byte[64 * 1024];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        await Task.Delay(TimeSpan.FromSeconds(8));
        try
        {
            while (DateTime.UtcNow < deadline)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                if (await raw.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) == 0)
                {
                    dropped = true;
                    break;
                }
            }
        }
        catch (SocketException)
        {
            dropped = true;
        }
        catch (OperationCanceledException)
        {
            // Nothing more arrived and the socket is still open: not dropped.
        }
        var stored = await stack.MailboxCountAsync(victim.Username);
        return (dropped, sent, stored);
    }

    private async Task<bool> GuessPasswordsAsync(int attempts)
    {
        var target = await stack.Api.NewUserAsync("target");
        for (var i = 0; i < attempts; i++)
        {
            using var response = await stack.Api.LoginRawAsync(target.Username, $"guess {i}");
            if (response.StatusCode == HttpStatusCode.TooManyRequests && response.Headers.RetryAfter is not null) return true;
        }
        return false;
    }
}
