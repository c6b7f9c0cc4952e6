using System.Collections.Concurrent;
using System.Text.Json;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Sealpost.Messages.Cluster;
using Sealpost.Messages.Delivery;
using Sealpost.Messages.Mailboxes;
using Sealpost.Messages.Tests.Mailboxes;
using Sealpost.Messages.Monitoring;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;
using Sealpost.Testing;
using Xunit.Abstractions;

namespace Sealpost.Messages.Tests.Delivery;

/// <summary>
/// A randomized model test of the delivery core: two instances' real relays, device sessions, flushes and write lanes
/// over one real PostgreSQL mailbox, joined by the real in-memory cluster bus (which keeps the bus's per-publisher
/// order; here it is sometimes late), driven by
/// random interleavings of sends, live pushes, mailbox reads, acks (prompt, late, never), reconnects and the loss of an
/// instance. After each run: every accepted message reached its recipient; per recipient connection, one sender
/// socket's messages came in send order; nothing went to anyone else; nothing came twice on one connection. The seed
/// is printed; a failing run replays the same choices with <c>SEALPOST_MODEL_SEED</c> (timing still varies).
/// </summary>
public sealed class DeliveryModelTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _databases = [];

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        if (int.TryParse(Environment.GetEnvironmentVariable("SEALPOST_MODEL_SEED"), out var fixedSeed)) data.Add(fixedSeed);
        else
            foreach (var seed in Enumerable.Range(0, 6).Select(_ => Random.Shared.Next())) data.Add(seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Every_accepted_message_arrives_once_per_connection_in_send_order_whatever_the_interleaving(int seed)
    {
        output.WriteLine($"seed {seed} (replay: SEALPOST_MODEL_SEED={seed})");
        var random = new Random(seed);
        var store = await NewStoreAsync();
        var options = new DeliveryOptions
        {
            DeliveryWindow = random.Next(2, 12),
            AckGrace = TimeSpan.FromMilliseconds(random.Next(2, 60)),
            RefusalPatience = TimeSpan.FromMilliseconds(500),
        };
        output.WriteLine($"window {options.DeliveryWindow}, ack grace {options.AckGrace.TotalMilliseconds} ms");
        var hub = new Jitter(random.Next());
        var world = new World();
        var instances = new[] { new Instance(hub, store, options, world), new Instance(hub, store, options, world) };
        var recipients = Enumerable.Range(0, 4).Select(i => $"r{i}").ToArray();
        var senders = Enumerable.Range(0, 4).Select(i => new Sender($"s{i}", instances[random.Next(2)], world)).ToList();
        var sockets = new List<Socket>();
        var lost = false;

        for (var step = 0; step < 400; step++)
        {
            var roll = random.Next(100);
            var alive = instances.Where(i => !i.Crashed).ToArray();
            if (roll < 45)
            {
                var sender = senders[random.Next(senders.Count)];
                var to = recipients[random.Next(recipients.Length)];
                for (var n = random.Next(1, 6); n > 0; n--) sender.Send(to);
            }
            else if (roll < 60)
            {
                var user = recipients[random.Next(recipients.Length)];
                if (sockets.Count(s => s.User == user && s.Open) < 2)
                    sockets.Add(await Socket.OpenAsync(user, alive[random.Next(alive.Length)], (AckStyle)random.Next(3), world, random.Next()));
            }
            else if (roll < 70)
            {
                var open = sockets.Where(s => s.Open).ToList();
                if (open.Count > 0) await open[random.Next(open.Count)].CloseAsync();
            }
            else if (roll < 72 && !lost && step > 50)
            {
                // An instance dies: what it held unstored is gone, its sockets drop, its senders resend elsewhere.
                lost = true;
                var victim = alive[random.Next(alive.Length)];
                victim.Crash();
                foreach (var socket in sockets.Where(s => s.Instance == victim)) socket.Drop();
                var survivor = instances.Single(i => !i.Crashed);
                foreach (var sender in senders.Where(s => s.Instance == victim)) sender.Reconnect(survivor);
            }
            else await Task.Delay(random.Next(0, 3));
        }

        // Settle: every sender's unaccepted sends are answered; then each recipient reads everything with one socket.
        var survivorOf = instances.First(i => !i.Crashed);
        await Eventually.HoldsAsync(() => Task.FromResult(senders.All(s => s.Unanswered == 0)), "sends were not answered", seconds: 30);
        foreach (var socket in sockets.Where(s => s.Open)) await socket.CloseAsync();
        var finals = new List<Socket>();
        foreach (var user in recipients) finals.Add(await Socket.OpenAsync(user, survivorOf, AckStyle.Prompt, world, 0));
        var accepted = world.Accepted.ToList();
        for (var i = 0; i < 300 && !accepted.All(a => world.Delivered.ContainsKey(a.Key)); i++) await Task.Delay(100);
        var missing = accepted.Where(a => !world.Delivered.ContainsKey(a.Key)).Select(a => a.Key).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} accepted messages never arrived, e.g. {string.Join(", ", missing.Take(5))}");

        output.WriteLine($"accepted {accepted.Count}, connections {sockets.Count + finals.Count}, copies to later connections {world.CrossConnectionCopies}, sends retried after internal {world.Retries.Count}");
        Assert.True(world.Violations.IsEmpty, string.Join("\n", world.Violations.Take(10)));
        foreach (var socket in finals) await socket.CloseAsync();
        foreach (var instance in instances) await instance.DisposeAsync();
    }

    private async Task<IMailboxStore> NewStoreAsync()
    {
        var store = await MailboxStores.StartAsync(TestEnvironment.NewDatabase("model"));
        _databases.Add(store);
        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var db in _databases) await db.DisposeAsync();
    }

    private enum AckStyle
    {
        Prompt,
        Late,
        Never,
    }

    /// <summary>What the run saw, and the rules it checks as it goes.</summary>
    private sealed class World
    {
        private long _copies;

        /// <summary>(sender/client id) → recipient, for sends the server accepted.</summary>
        public ConcurrentDictionary<string, string> Accepted { get; } = new();

        /// <summary>(sender/client id) → delivered at least once to its recipient.</summary>
        public ConcurrentDictionary<string, bool> Delivered { get; } = new();

        public ConcurrentBag<string> Violations { get; } = [];

        /// <summary>Sends answered <c>internal</c>, which the driver sends again.</summary>
        public ConcurrentBag<string> Retries { get; } = [];

        /// <summary>sender/client id → (recipient, sender socket, sequence in that socket's sends to that recipient).</summary>
        public ConcurrentDictionary<string, (string To, int Socket, int Sequence)> Sent { get; } = new();

        public long CrossConnectionCopies => Interlocked.Read(ref _copies);

        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

        /// <summary>sender/client id → what happened to it, with milliseconds since the start: printed with a violation.</summary>
        public ConcurrentDictionary<string, ConcurrentQueue<string>> History { get; } = new();

        public void Note(string key, string what) => History.GetOrAdd(key, _ => new()).Enqueue($"{_clock.Elapsed.TotalMilliseconds:F1} ms {what}");

        public string Story(string key) => key + ":\n    " + string.Join("\n    ", History.TryGetValue(key, out var notes) ? notes : []);

        public void CountCopy() => Interlocked.Increment(ref _copies);
    }

    /// <summary>A sender socket: its sends go to the relay of the instance it is connected to, in order.</summary>
    private sealed class Sender
    {
        private static int _sockets;
        private readonly string _name;
        private readonly World _world;
        private readonly Lock _gate = new();
        private readonly List<(string ClientId, string To)> _unanswered = [];
        private readonly Dictionary<string, int> _sequence = [];
        private SenderLane _outbound;
        private int _socket;

        public Sender(string name, Instance instance, World world)
        {
            _name = name;
            _world = world;
            Instance = instance;
            (_outbound, _socket) = NewSocket();
        }

        public Instance Instance { get; private set; }

        public int Unanswered
        {
            get
            {
                lock (_gate) return _unanswered.Count;
            }
        }

        public void Send(string to) => Submit(Guid.NewGuid().ToString(), to);

        /// <summary>A new socket on another instance: everything unanswered is sent again, in order, under the same ids.</summary>
        public void Reconnect(Instance instance)
        {
            List<(string ClientId, string To)> again;
            lock (_gate)
            {
                Instance = instance;
                (_outbound, _socket) = NewSocket();
                _sequence.Clear();
                again = [.. _unanswered];
                _unanswered.Clear();
            }
            foreach (var (clientId, to) in again) Submit(clientId, to);
        }

        private (SenderLane, int) NewSocket()
        {
            var socket = Interlocked.Increment(ref _sockets);
            return (new SenderLane(socket, new Replies((message, frame) => Answered(socket, message.ClientId, frame))), socket);
        }

        private void Submit(string clientId, string to)
        {
            SenderLane outbound;
            Instance instance;
            lock (_gate)
            {
                var sequence = _sequence[to] = _sequence.GetValueOrDefault(to) + 1;
                _world.Sent[_name + "/" + clientId] = (to, _socket, sequence);
                _world.Note(_name + "/" + clientId, $"sent to {to} on sender socket {_socket} as #{sequence}, instance {Instance.Name}");
                _unanswered.Add((clientId, to));
                (outbound, instance) = (_outbound, Instance);
            }
            var message = new NewMessage(MessageIds.Next(TimeProvider.System), _name, Guid.Parse(clientId), to, "AAAA", DateTimeOffset.UtcNow);
            _world.Note(_name + "/" + clientId, $"message id {message.Id}");
            instance.Submit(outbound, message);
        }

        private void Answered(int socket, Guid clientId, byte[] json)
        {
            var frame = JsonSerializer.Deserialize(json, SealpostJsonContext.Default.ServerFrame)!;
            _world.Note(_name + "/" + clientId, $"answered on sender socket {socket}: {frame.Type} {frame.Code} {frame.MessageId}");
            lock (_gate)
            {
                // Answers to a socket that died are lost with it; the resend on the new socket answers.
                if (socket != _socket) return;
                if (frame.Type != FrameTypes.Accepted)
                {
                    // "internal" asks the client to send again with the same id (docs/protocol.md); anything else is wrong here.
                    if (frame.Code != ErrorCodes.Internal)
                    {
                        _world.Violations.Add($"send {clientId} answered {frame.Code}: {frame.Message}");
                        return;
                    }
                    _world.Retries.Add(clientId.ToString());
                    var to = _unanswered.First(u => u.ClientId == clientId.ToString()).To;
                    _unanswered.RemoveAll(u => u.ClientId == clientId.ToString());
                    _ = Task.Run(() => Submit(clientId.ToString(), to));
                    return;
                }
                _unanswered.RemoveAll(u => u.ClientId == clientId.ToString());
                _world.Accepted[_name + "/" + clientId] = _world.Sent[_name + "/" + clientId].To;
            }
        }
    }

    /// <summary>A recipient's socket: records what it is sent, checks the rules, and acks as its style says.</summary>
    private sealed class Socket
    {
        private readonly World _world;
        private readonly Random _random;
        private readonly AckStyle _style;
        private readonly HashSet<Guid> _seen = [];
        private readonly Dictionary<int, int> _lastSequence = [];
        private readonly Dictionary<int, string> _lastKey = [];
        private static int _connections;
        private readonly int _connection = Interlocked.Increment(ref _connections);
        private DeviceSession _delivery = null!;

        private Socket(string user, Instance instance, AckStyle style, World world, int seed)
        {
            User = user;
            Instance = instance;
            _style = style;
            _world = world;
            _random = new Random(seed);
        }

        public string User { get; }

        public Instance Instance { get; }

        public bool Open { get; private set; } = true;

        public static async Task<Socket> OpenAsync(string user, Instance instance, AckStyle style, World world, int seed)
        {
            var socket = new Socket(user, instance, style, world, seed);
            socket._delivery = (await instance.Sessions.OpenAsync(user, Guid.Empty, new Recorder(socket.Receive)))!;
            return socket;
        }

        public async Task CloseAsync()
        {
            if (!Open) return;
            Open = false;
            await Instance.Sessions.CloseAsync(_delivery);
        }

        /// <summary>The instance died under this socket.</summary>
        public void Drop()
        {
            Open = false;
            _delivery.Stop();
        }

        // Called under the delivery's lock, in the order frames would be written.
        private bool Receive(byte[] json)
        {
            var frame = JsonSerializer.Deserialize(json, SealpostJsonContext.Default.ServerFrame)!;
            if (frame.Type != FrameTypes.Message) return true;
            var id = Guid.Parse(frame.MessageId!);
            var key = frame.From + "/" + frame.ClientId;
            _world.Note(key, $"delivered as {id} to connection {_connection} of {User} on instance {Instance.Name}");
            if (!_seen.Add(id)) _world.Violations.Add($"{id} came twice on one connection of {User}");
            if (!_world.Sent.TryGetValue(key, out var sent) || sent.To != User) _world.Violations.Add($"{key} reached {User}, who was not its recipient");
            else
            {
                if (_lastSequence.TryGetValue(sent.Socket, out var last) && sent.Sequence <= last)
                {
                    // A resend after the sender's instance died may repeat an earlier message (same client id): allowed.
                    if (!_world.Delivered.ContainsKey(key))
                        _world.Violations.Add($"{User}: from sender socket {sent.Socket}, #{sent.Sequence} came after #{last} on connection {_connection}\n  {_world.Story(key)}\n  {_world.Story(_lastKey[sent.Socket])}");
                }
                else
                {
                    _lastSequence[sent.Socket] = sent.Sequence;
                    _lastKey[sent.Socket] = key;
                }
                if (!_world.Delivered.TryAdd(key, true)) _world.CountCopy();
            }
            switch (_style)
            {
                case AckStyle.Prompt:
                    _ = Task.Run(() => _delivery.Ack([id]));
                    break;
                case AckStyle.Late:
                    var delay = _random.Next(1, 80);
                    _ = Task.Run(async () =>
                    {
                        await Task.Delay(delay);
                        _delivery.Ack([id]);
                    });
                    break;
            }
            return true;
        }
    }

    /// <summary>One messages instance: the real parts, wired as MessagesServiceExtensions wires them, on the real in-memory bus.</summary>
    private sealed class Instance : IAsyncDisposable
    {
        private static readonly MessagesMetrics Metrics = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
        private static int _instances;
        private readonly CrashableStore _store;
        private readonly InMemoryClusterBus _bus;
        private readonly MailboxWriter _writer;
        private readonly CancellationTokenSource _stopping = new();
        private readonly Task _loops;

        public Instance(Jitter jitter, IMailboxStore store, DeliveryOptions deliveryOptions, World world)
        {
            var (options, clock) = (Options.Create(deliveryOptions), TimeProvider.System);
            _store = new CrashableStore(store, world, Name);
            _bus = new InMemoryClusterBus(jitter.Hub);
            var devices = new LocalDevices(_bus, options, clock);
            _writer = new MailboxWriter(_store, Options.Create(new MailboxOptions()), Metrics, NullLogger<MailboxWriter>.Instance);
            Relay = new Relay(devices, _bus, _writer, options, clock, Metrics, NullLogger<Relay>.Instance);
            var flush = new ClusterFlush(_bus, Relay, options, clock, NullLogger<ClusterFlush>.Instance);
            Sessions = new DeviceSessions(devices, _store, new Origins(Relay, _bus, _writer, devices), flush, options, clock, Metrics, NullLogger<DeviceSession>.Instance);
            _loops = Task.WhenAll(_bus.ListenAsync(new BusDispatcher(Relay, devices, flush), _stopping.Token), Relay.RunGraceAsync(_stopping.Token));
        }

        public string Name { get; } = "i" + Interlocked.Increment(ref _instances);

        public Relay Relay { get; }

        public DeviceSessions Sessions { get; }

        public bool Crashed { get; private set; }

        public void Submit(SenderLane sender, NewMessage message) => Relay.Submit(sender, message);

        /// <summary>Like kill -9: nothing more reaches the store or the bus from here.</summary>
        public void Crash()
        {
            Crashed = true;
            _store.Crashed = true;
            _bus.Disconnect();
        }

        public async ValueTask DisposeAsync()
        {
            await _stopping.CancelAsync();
            await _loops;
            if (!Crashed) await _writer.DisposeAsync();
        }
    }

    /// <summary>The store as one instance sees it: after a crash, nothing it asks for happens.</summary>
    private sealed class CrashableStore(IMailboxStore store, World world, string instance) : IMailboxStore
    {
        public volatile bool Crashed;

        private T Alive<T>(Func<T> work) => Crashed ? throw new NpgsqlException("the instance is dead") : work();

        public async Task<AcceptResult[]> StoreAsync(IReadOnlyList<NewMessage> batch, CancellationToken ct)
        {
            foreach (var m in batch) world.Note(m.Sender + "/" + m.ClientId, $"{instance} writes {m.Id}");
            var results = await Alive(() => store.StoreAsync(batch, ct));
            for (var k = 0; k < batch.Count; k++) world.Note(batch[k].Sender + "/" + batch[k].ClientId, $"{instance} wrote {batch[k].Id}: {results[k].Status} {results[k].MessageId}");
            return results;
        }

        public Task DeleteAsync(IReadOnlyList<(string Recipient, Guid Id)> acked, CancellationToken ct) => Alive(() => store.DeleteAsync(acked, ct));

        public Task DeleteMailboxAsync(string recipient, CancellationToken ct) => Alive(() => store.DeleteMailboxAsync(recipient, ct));

        public async Task<IReadOnlyList<StoredMessage>> PendingAsync(string recipient, IReadOnlyCollection<Guid> exclude, int limit, CancellationToken ct)
        {
            var found = await Alive(() => store.PendingAsync(recipient, exclude, limit, ct));
            foreach (var m in found) world.Note(m.Sender + "/" + m.ClientId, $"{instance} read {m.Id} from {recipient}'s mailbox");
            return found;
        }

        public Task<IReadOnlyCollection<Guid>> StillPendingAsync(string recipient, IReadOnlyCollection<Guid> ids, CancellationToken ct) =>
            Alive(() => store.StillPendingAsync(recipient, ids, ct));

        public Task<int> SweepAsync(CancellationToken ct) => Alive(() => store.SweepAsync(ct));

        public Task<MailboxDepth> DepthAsync(CancellationToken ct) => Alive(() => store.DepthAsync(ct));

        public Task PingAsync(CancellationToken ct) => Alive(() => store.PingAsync(ct));
    }

    /// <summary>Bus messages are sometimes late (one in ten, by 1 to 3 ms), as over a real network; the choice follows the seed.</summary>
    private sealed class Jitter
    {
        private readonly Random _random;

        public Jitter(int seed)
        {
            _random = new Random(seed);
            Hub = new InMemoryHub(Next);
        }

        public InMemoryHub Hub { get; }

        private TimeSpan Next()
        {
            lock (_random) return TimeSpan.FromMilliseconds(_random.Next(10) == 0 ? _random.Next(1, 4) : 0);
        }
    }

    private sealed class Replies(Action<NewMessage, byte[]> answered) : ISendReplies
    {
        public void Answered(NewMessage message, byte[] frame, bool accepted) => answered(message, frame);
    }

    /// <summary>A socket's writer that hands each frame to the model's recipient.</summary>
    private sealed class Recorder(Func<byte[], bool> receive) : IFrameSink
    {
        public bool Emit(byte[] frame) => receive(frame);

        public void Close(int code, string reason)
        {
        }
    }
}
