using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Sealpost.Crypto;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.System.Tests;

/// <summary>What a peer got: who sent it and the plaintext it opened to.</summary>
public sealed record Received(string From, string Plaintext);

/// <summary>
/// A well-behaved client as the system tests need one: it keeps a socket open through HAProxy, reconnects with
/// backoff, re-sends what was not yet accepted under the same client id, opens and verifies every envelope,
/// drops duplicates by message id, and acks what it kept.
/// </summary>
public sealed class Peer : IAsyncDisposable
{
    private readonly SealpostStack _stack;
    private readonly IReadOnlyDictionary<string, byte[]> _directory;
    private readonly ConcurrentDictionary<string, (string Frame, TaskCompletionSource<string> Accepted)> _unaccepted = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private ClientWebSocket? _socket;
    private Task _loop = Task.CompletedTask;
    private int _duplicates;
    private int _reconnects;

    private Peer(SealpostStack stack, string username, X25519KeyPair keys, IReadOnlyDictionary<string, byte[]> directory)
    {
        _stack = stack;
        Username = username;
        Keys = keys;
        _directory = directory;
    }

    public string Username { get; }

    public X25519KeyPair Keys { get; }

    public ConcurrentDictionary<string, Received> Inbox { get; } = new();

    public int Duplicates => _duplicates;

    public int Reconnects => _reconnects;

    public ConcurrentBag<string> ErrorCodes { get; } = [];

    /// <summary>Registers users with real key pairs (through HAProxy) and fills the shared key directory.</summary>
    public static async Task<List<Peer>> CreateAsync(SealpostStack stack, int count, ConcurrentDictionary<string, byte[]> directory)
    {
        var peers = new List<Peer>();
        for (var i = 0; i < count; i++)
        {
            var username = TestEnvironment.UniqueUsername("p");
            var keys = X25519KeyPair.Generate();
            using var response = await stack.Api.RegisterRawAsync(username, UsersApi.DefaultPassword, AccountRules.EncodePublicKey(keys.PublicKey));
            await UsersApi.EnsureAsync(response, global::System.Net.HttpStatusCode.Created);
            directory[username] = keys.PublicKey.ToArray();
            peers.Add(new Peer(stack, username, keys, directory));
        }
        return peers;
    }

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Seals and sends; completes with the message id once the server accepted it (after any number of reconnects).</summary>
    public async Task<string> SendAsync(string to, string plaintext)
    {
        var envelope = Envelope.Seal(new EnvelopeParty(Username, 1, Keys.PrivateKey.ToArray()), new EnvelopeRecipient(to, 1, _directory[to]), Encoding.UTF8.GetBytes(plaintext));
        var id = Guid.NewGuid().ToString();
        var frame = JsonSerializer.Serialize(new SendFrame("send", id, to, Convert.ToBase64String(envelope)), SealpostJsonContext.Default.SendFrame);
        var accepted = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _unaccepted[id] = (frame, accepted);
        await TrySendAsync(frame);
        return await accepted.Task;
    }

    private async Task RunAsync()
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var token = (await new UsersApi(new HttpClient { BaseAddress = _stack.BaseUrl }).LoginAsync(Username)).AccessToken;
                var socket = new ClientWebSocket();
                socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
                using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
                    await socket.ConnectAsync(new Uri(_stack.BaseUrl.ToString().Replace("http", "ws", StringComparison.Ordinal) + "v1/ws"), timeout.Token);
                _socket = socket;
                backoff = TimeSpan.FromMilliseconds(100);
                foreach (var (frame, _) in _unaccepted.Values) await TrySendAsync(frame);
                await ReadAsync(socket);
            }
            catch (Exception e) when (e is WebSocketException or HttpRequestException or TaskCanceledException or OperationCanceledException or IOException)
            {
                // The instance died, is restarting, or the database is away: try again shortly.
            }
            _socket = null;
            if (_stop.IsCancellationRequested) break;
            Interlocked.Increment(ref _reconnects);
            await Task.Delay(backoff + TimeSpan.FromMilliseconds(Random.Shared.Next(100)));
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }

    private async Task ReadAsync(ClientWebSocket socket)
    {
        var buffer = new byte[128 * 1024];
        while (!_stop.IsCancellationRequested)
        {
            var length = 0;
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), _stop.Token);
                length += result.Count;
            }
            while (!result.EndOfMessage);
            if (result.MessageType == WebSocketMessageType.Close) return;
            using var doc = JsonDocument.Parse(buffer.AsMemory(0, length));
            var frame = doc.RootElement;
            switch (frame.GetProperty("type").GetString())
            {
                case "accepted":
                    if (_unaccepted.TryRemove(frame.GetProperty("id").GetString()!, out var pending))
                        pending.Accepted.TrySetResult(frame.GetProperty("message_id").GetString()!);
                    break;
                case "message":
                    var messageId = frame.GetProperty("message_id").GetString()!;
                    var from = frame.GetProperty("from").GetString()!;
                    string plaintext;
                    try
                    {
                        plaintext = Encoding.UTF8.GetString(Envelope.Open(
                            Convert.FromBase64String(frame.GetProperty("body").GetString()!), Username, 1, Keys.PrivateKey, from, _directory[from]));
                    }
                    catch (CryptoException)
                    {
                        ErrorCodes.Add("envelope_rejected");
                        break;
                    }
                    if (!Inbox.TryAdd(messageId, new Received(from, plaintext))) Interlocked.Increment(ref _duplicates);
                    await TrySendAsync(JsonSerializer.Serialize(new AckFrame("ack", messageId), SealpostJsonContext.Default.AckFrame));
                    break;
                case "error":
                    ErrorCodes.Add(frame.GetProperty("code").GetString()!);
                    // internal (storage away) and rate_limited are worth a retry under the same id; the rest are bugs.
                    if (frame.TryGetProperty("id", out var id) && id.GetString() is { } clientId && _unaccepted.TryGetValue(clientId, out var retry))
                        _ = Task.Delay(500).ContinueWith(_ => TrySendAsync(retry.Frame), TaskScheduler.Default);
                    break;
            }
        }
    }

    private async Task TrySendAsync(string frame)
    {
        if (_socket is not { State: WebSocketState.Open } socket) return;
        await _sendLock.WaitAsync();
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException or IOException)
        {
            // The socket broke under us: what was not accepted is sent again on reconnect.
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket?.Abort();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
            // stopped
        }
    }
}
