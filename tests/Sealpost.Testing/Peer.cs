using System.Collections.Concurrent;
using System.Text;
using Sealpost.Client;
using Sealpost.Client.Accounts;
using Sealpost.Client.Messaging;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Testing;

/// <summary>What a peer got: who sent it, the plaintext it opened to, the message id it came under, and when it first came.</summary>
public sealed record Received(string From, string Plaintext, string MessageId, DateTime ArrivedAt);

/// <summary>
/// A well-behaved client as the system and cluster tests need one, on the SDK's <see cref="MessageConnection"/>: it
/// keeps a socket open through HAProxy, reconnects with backoff, resends what was not yet accepted under the same client
/// id, opens and verifies every envelope, drops duplicates by sender and client id (docs/protocol.md), and acks what it
/// kept. Plaintexts that start with a sequence number ("17 from …") are checked for order per sender.
/// </summary>
public sealed class Peer : IAsyncDisposable
{
    private static readonly ConnectionOptions Patient = new()
    {
        InitialAttempts = 20,
        BackoffBase = TimeSpan.FromMilliseconds(100),
        BackoffCap = TimeSpan.FromSeconds(2),
        SendRetries = 1000,
    };

    private readonly IReadOnlyDictionary<string, byte[]> _directory;
    private readonly MessageConnection _connection;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private int _duplicates;
    private int _reconnects;

    private readonly ConcurrentDictionary<string, int> _lastSequence = new();
    private int _retriedSends;

    private Peer(Uri baseUrl, string? certificateFile, string username, X25519KeyPair keys, IReadOnlyDictionary<string, byte[]> directory)
    {
        Username = username;
        Keys = keys;
        _directory = directory;
        var users = new UsersApi(Http(baseUrl, certificateFile));
        // As the SDK's session keeper does: the access token is kept until it is refused or about to lapse, so a
        // reconnect after an instance dies costs no password hash.
        AccessToken? kept = null;
        _connection = new MessageConnection(baseUrl, async (rejected, _) =>
        {
            if (kept is { } token && token.Value != rejected && token.ExpiresAt > DateTimeOffset.UtcNow.AddMinutes(1)) return token;
            try
            {
                var session = await users.LoginAsync(username);
                return kept = new AccessToken(session.AccessToken, session.ExpiresAt);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // As the SDK's own session keeper does: a users service that does not answer (failing over, busy) is a
                // network problem, so the connection backs off and tries again instead of giving up.
                throw new SealpostException(ErrorKind.Network, ClientErrorCodes.ServerUnreachable, "Cannot log in: " + e.Message, e);
            }
        }, certificateFile is null ? Patient : Patient with { CertificateCheck = ServerTransport.TrustOnly(certificateFile) });
        _connection.Reconnecting += lost => _lastEvent = lost.ToString();
        _connection.Reconnected += () =>
        {
            _lastEvent = "reconnected";
            Interlocked.Increment(ref _reconnects);
        };
        _connection.Warning += warning =>
        {
            _lastEvent = warning.ToString();
            if (warning is MessagingWarning.SendRetrying) Interlocked.Increment(ref _retriedSends);
        };
        _connection.ServerError += ErrorCodes.Add;
    }

    public string Username { get; }

    public X25519KeyPair Keys { get; }

    /// <summary>What arrived, by sender and client id: one entry per message, however often it came.</summary>
    public ConcurrentDictionary<string, Received> Inbox { get; } = new();

    public int Duplicates => _duplicates;

    public int Reconnects => _reconnects;

    /// <summary>Sends the server refused for now (<c>internal</c>, <c>rate_limited</c>) and the SDK sent again.</summary>
    public int RetriedSends => _retriedSends;

    /// <summary>Messages that arrived (for the first time) after a later message of the same sender: "from: 17 after 18".</summary>
    public ConcurrentBag<string> OutOfOrder { get; } = [];

    public ConcurrentBag<string> ErrorCodes { get; } = [];

    /// <summary>For a failure message: whether the receive loop still runs, and how it ended if not.</summary>
    public string Status =>
        (_loop.IsCompleted ? $"receive loop ended ({_loop.Exception?.GetBaseException().Message ?? "no error"})" : "receiving") +
        $", socket {(_connection.IsConnected ? "open" : "not open")}, {_reconnects} reconnects, last event: {_lastEvent}";

    private string _lastEvent = "none";

    /// <summary>The key of a message in <see cref="Inbox"/>: what a client compares to recognise a duplicate.</summary>
    public static string Key(string from, string clientId) => from + "/" + clientId;

    /// <summary>Registers users with real key pairs (through HAProxy) and fills the shared key directory.</summary>
    public static Task<List<Peer>> CreateAsync(SealpostStack stack, int count, ConcurrentDictionary<string, byte[]> directory) =>
        CreateAsync(stack.BaseUrl, null, count, directory);

    /// <summary>
    /// Registers users with real key pairs at <paramref name="baseUrl"/> and fills the shared key directory; over https,
    /// <paramref name="certificateFile"/> names the only certificate the peers trust (a self-made one).
    /// </summary>
    public static async Task<List<Peer>> CreateAsync(Uri baseUrl, string? certificateFile, int count, ConcurrentDictionary<string, byte[]> directory)
    {
        var api = new UsersApi(Http(baseUrl, certificateFile));
        var peers = new List<Peer>();
        for (var i = 0; i < count; i++)
        {
            var username = TestEnvironment.UniqueUsername("p");
            var keys = X25519KeyPair.Generate();
            using var response = await api.RegisterRawAsync(username, UsersApi.DefaultPassword, AccountRules.EncodePublicKey(keys.PublicKey));
            await UsersApi.EnsureAsync(response, global::System.Net.HttpStatusCode.Created);
            directory[username] = keys.PublicKey.ToArray();
            peers.Add(new Peer(baseUrl, certificateFile, username, keys, directory));
        }
        return peers;
    }

    private static HttpClient Http(Uri baseUrl, string? certificateFile) =>
        new(certificateFile is null ? new SocketsHttpHandler() : new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = ServerTransport.TrustOnly(certificateFile) } })
        {
            BaseAddress = baseUrl,
        };

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Seals and sends; completes with the client id once the server accepted it (after any number of reconnects).</summary>
    public async Task<string> SendAsync(string to, string plaintext)
    {
        var envelope = Envelope.Seal(new EnvelopeParty(Username, 1, Keys.PrivateKey.ToArray()), new EnvelopeRecipient(to, 1, _directory[to]), Encoding.UTF8.GetBytes(plaintext));
        var clientId = Guid.NewGuid().ToString();
        await _connection.SendAsync(clientId, to, Convert.ToBase64String(envelope), _stop.Token);
        return clientId;
    }

    private async Task RunAsync()
    {
        try
        {
            await _connection.StartAsync(_stop.Token);
            await foreach (var frame in _connection.Incoming.ReadAllAsync(_stop.Token))
            {
                if (ReferenceEquals(frame, MessageConnection.SyncedMarker)) continue;
                string plaintext;
                try
                {
                    plaintext = Encoding.UTF8.GetString(Envelope.Open(
                        Convert.FromBase64String(frame.Body), Username, 1, Keys.PrivateKey, frame.From, _directory[frame.From]));
                }
                catch (CryptoException)
                {
                    ErrorCodes.Add("envelope_rejected");
                    continue;
                }
                if (!Inbox.TryAdd(Key(frame.From, frame.ClientId ?? frame.MessageId), new Received(frame.From, plaintext, frame.MessageId, DateTime.UtcNow)))
                    Interlocked.Increment(ref _duplicates);
                else CheckOrder(frame.From, plaintext);
                await _connection.AckAsync(frame.MessageId, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SealpostException)
        {
            // stopped, or the connection gave up (the test's deadline reports what is missing)
        }
    }

    // One receive loop per peer: no two calls at once.
    private void CheckOrder(string from, string plaintext)
    {
        var space = plaintext.IndexOf(' ', StringComparison.Ordinal);
        if (space < 1 || !int.TryParse(plaintext.AsSpan(0, space), global::System.Globalization.CultureInfo.InvariantCulture, out var sequence)) return;
        var last = _lastSequence.GetValueOrDefault(from, -1);
        if (sequence < last) OutOfOrder.Add($"{from}: {sequence} after {last}");
        else _lastSequence[from] = sequence;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
            // stopped
        }
        await _connection.DisposeAsync();
    }
}
