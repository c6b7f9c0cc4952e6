using Sealpost.Messages.Mailboxes;
using Sealpost.Messages.Monitoring;
using Sealpost.Messages.Sockets;
using Sealpost.Protocol;

namespace Sealpost.Messages.Delivery;

/// <summary>What a socket's delivery works with, bundled.</summary>
public sealed record DeliveryServices(
    IMailboxStore Store, MailboxWriter Writer, Relay Relay, ConnectionRegistry Registry, IDeliveryBus Bus, SocketOptions Options,
    TimeProvider Clock, ILogger Logger);

/// <summary>
/// The delivery side of one socket, without the socket: its <see cref="DeliveryState"/> under one lock, the mailbox
/// reads the state asks for, and acks routed to wherever each message came from. What it decides to send goes to
/// <c>emit</c>, called under the lock, so frames leave in the order they were decided. <c>Connection</c> wires it to a
/// WebSocket; the model test wires it to a recorder.
/// </summary>
public sealed partial class SocketDelivery
{
    private readonly DeliveryServices _services;
    private static readonly TimeSpan SlowStart = TimeSpan.FromSeconds(3);
    private const int PatientRoundsBeforeWarning = 5;
    private readonly Func<byte[], bool> _emit;
    private readonly Lock _gate = new();
    private readonly DeliveryState _state;
    private readonly CancellationTokenSource _stop = new();
    private int _patienceArmed;
    private long _lastProgress;
    private bool _closed;
    private bool _started;    // the flush is done: mailbox reads may begin
    private readonly long _createdAt;
    private long _readStartedAt;
    private bool _reported;

    /// <param name="address">Whose messages these are: a device (<see cref="Identity.DeviceAddress"/>).</param>
    /// <param name="services">The instance's parts.</param>
    /// <param name="emit">Queues a frame for the socket; false when the socket cannot take it (it is being dropped).</param>
    /// <param name="close">Closes the socket with a code and reason (the instance is shutting down).</param>
    public SocketDelivery(string address, DeliveryServices services, Func<byte[], bool> emit, Action<System.Net.WebSockets.WebSocketCloseStatus, string> close)
    {
        Address = address;
        _services = services;
        _emit = emit;
        Close = close;
        _state = new DeliveryState(services.Options.DeliveryWindow, services.Options.RefusalPatience);
        _lastProgress = services.Clock.GetTimestamp();
        _createdAt = _lastProgress;
    }

    /// <summary>
    /// Logs, once per socket, a delivery that looks stuck: not started (its flush unfinished), or a mailbox read that
    /// has not come back, for longer than <paramref name="after"/>. Called by the socket's timer.
    /// </summary>
    public void ReportIfStuck(TimeSpan after)
    {
        string? problem = null;
        lock (_gate)
        {
            if (_reported || _closed) return;
            var clock = _services.Clock;
            if (!_started && clock.GetElapsedTime(_createdAt) > after) problem = "not started: the flush has not finished";
            else if (_readStartedAt != 0 && clock.GetElapsedTime(_readStartedAt) > after) problem = "a mailbox read has not come back";
            if (problem is null) return;
            _reported = true;
            problem += "; " + _state.Describe();
        }
        LogStuck(_services.Logger, Address, problem);
    }

    public string Address { get; }

    /// <summary>The session whose token opened (or last renewed) the socket: when it ends, the socket closes.</summary>
    public Guid Session { get; set; }

    /// <summary>Asks the socket to close, after what is queued.</summary>
    public Action<System.Net.WebSockets.WebSocketCloseStatus, string> Close { get; }

    private long NowMs => (long)(_services.Clock.GetTimestamp() * 1000.0 / _services.Clock.TimestampFrequency);

    /// <summary>
    /// Starts delivering: once every instance has stored what it held for this user (<see cref="Relay.FlushAsync"/>),
    /// the first mailbox read. Until that read, live messages are refused and reach the socket through the mailbox.
    /// </summary>
    public async Task StartAsync()
    {
        var started = _services.Clock.GetTimestamp();
        try
        {
            await _services.Relay.FlushAsync(Address, _stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception e)
        {
            // Never expected; the socket must start all the same.
            LogStoreFailed(_services.Logger, e, Address);
        }
        var took = _services.Clock.GetElapsedTime(started);
        if (took > SlowStart) LogSlowStart(_services.Logger, Address, took.TotalSeconds);
        lock (_gate) _started = true;
        LogStarted(_services.Logger, Address, took.TotalMilliseconds);
        Kick();
    }

    /// <summary>Stops: nothing more is emitted or read. What is in flight unacknowledged stays where it is (mailbox or origin).</summary>
    public void Stop()
    {
        lock (_gate) _closed = true;
        _stop.Cancel();
    }

    /// <summary>A message offered live (from this instance or another); pushed at once if the state allows.</summary>
    public OfferDecision Offer(Guid messageId, Guid origin, byte[] frame)
    {
        OfferDecision decision;
        lock (_gate)
        {
            if (_closed) return OfferDecision.Ignore;
            decision = _state.OnOffer(messageId, origin, NowMs);
            if (decision == OfferDecision.Push && !_emit(frame)) _closed = true;
            if (decision != OfferDecision.Push && _services.Logger.IsEnabled(LogLevel.Debug)) LogOffer(_services.Logger, Address, messageId, decision, _state.Describe());
        }
        if (decision == OfferDecision.Push) MessagesMetrics.Delivered.Add(1, MessagesMetrics.Live);
        // If the news that it was stored never comes (its origin died), read the mailbox anyway after a while.
        if (decision == OfferDecision.Refuse && Interlocked.Exchange(ref _patienceArmed, 1) == 0) _ = KickAfterPatienceAsync();
        return decision;
    }

    public void OnStored(Guid messageId)
    {
        lock (_gate) _state.OnStored(messageId);
        Kick();
    }

    public void OnAckedElsewhere(Guid messageId)
    {
        lock (_gate) _state.OnAckedElsewhere(messageId);
        Kick();
    }

    public void Wake()
    {
        lock (_gate) _state.OnWake();
        Kick();
    }

    /// <summary>The client acknowledged these messages (it has stored them). Unknown ids are ignored.</summary>
    public void Ack(ReadOnlySpan<Guid> ids)
    {
        var freed = false;
        Dictionary<Guid, List<Guid>>? remote = null;
        foreach (var id in ids)
        {
            Guid? origin;
            lock (_gate) origin = _state.OnAck(id);
            if (origin is not { } from) continue;   // not in flight here: acked already, or never sent to this socket
            freed = true;
            MessagesMetrics.Acknowledged.Add(1);
            if (from == DeliveryState.FromStore)
            {
                _services.Writer.Delete(Address, id);
                _services.Registry.NotifyAcked(Address, id, this);
            }
            else if (from == _services.Bus.InstanceId) _services.Relay.OnAnswer(Answer.Acked, Address, id);
            else
            {
                remote ??= [];
                if (!remote.TryGetValue(from, out var list)) remote[from] = list = [];
                list.Add(id);
            }
        }
        // One bus message per origin for the acks of one frame.
        if (remote is not null)
            foreach (var (origin, list) in remote) _services.Bus.Tell(origin, Answer.Acked, Address, list);
        if (!freed) return;
        Interlocked.Exchange(ref _lastProgress, _services.Clock.GetTimestamp());
        Kick();
    }

    /// <summary>
    /// A full window with no ack here for a while: acks on the user's other instances may have deleted these messages.
    /// Checks the store and lets the gone ones out of the window.
    /// </summary>
    public async Task CheckStuckWindowAsync(TimeSpan after, CancellationToken ct)
    {
        IReadOnlyCollection<Guid> fromStore;
        lock (_gate)
        {
            if (!_state.WindowFull || _services.Clock.GetElapsedTime(Interlocked.Read(ref _lastProgress)) < after) return;
            fromStore = _state.InFlightFromStore;
        }
        try
        {
            var still = await _services.Store.StillPendingAsync(Address, fromStore, ct);
            lock (_gate) _state.KeepOnly(still);
            Interlocked.Exchange(ref _lastProgress, _services.Clock.GetTimestamp());
            Kick();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStoreFailed(_services.Logger, e, Address);
        }
    }

    /// <summary>Starts the mailbox read the state asks for, if it asks for one.</summary>
    private void Kick()
    {
        ReadRequest? request;
        lock (_gate)
        {
            // No read before the flush: one could miss what another instance still held for this user.
            if (_closed || !_started) return;
            request = _state.BeginRead(NowMs);
        }
        if (request is null) return;
        Interlocked.Exchange(ref _readStartedAt, _services.Clock.GetTimestamp());
        _ = ReadAsync(request);
    }

    // Runs while refusals are outstanding. A living origin announces what became of every message it was told to
    // store, but the announcement travels over Redis pub/sub, which drops what is published while a connection is
    // down. So each round asks the origins of refusals older than the patience again (a refusal is idempotent: the
    // origin stores the message if it still holds it, else announces it again), and gives up on origins that died
    // (what they held was never accepted).
    private async Task KickAfterPatienceAsync()
    {
        for (var round = 1; ; round++)
        {
            try
            {
                await Task.Delay(_services.Options.RefusalPatience, _services.Clock, _stop.Token);
                IReadOnlyCollection<IGrouping<Guid, Guid>> overdue;
                lock (_gate) overdue = _state.Overdue(NowMs);
                foreach (var refused in overdue)
                {
                    var origin = refused.Key;
                    if (origin == _services.Bus.InstanceId)
                    {
                        foreach (var id in refused) _services.Relay.OnAnswer(Answer.Refused, Address, id);
                    }
                    else if (await _services.Bus.IsAliveAsync(origin))
                    {
                        foreach (var chunk in refused.Chunk(Limits.AckIdsMax)) _services.Bus.Tell(origin, Answer.Refused, Address, chunk);
                    }
                    else
                    {
                        LogGaveUp(_services.Logger, Address, origin);
                        lock (_gate) _state.GiveUpOn(origin);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                // Redis is away (the origin cannot be asked): the next round asks again.
                LogAskFailed(_services.Logger, e, Address);
            }
            Kick();
            lock (_gate)
            {
                if (_closed || !_state.HasRefusals)
                {
                    _patienceArmed = 0;
                    return;
                }
                if (round == PatientRoundsBeforeWarning) LogStillWaiting(_services.Logger, Address, _state.Describe());
            }
        }
    }

    private async Task ReadAsync(ReadRequest request)
    {
        IReadOnlyList<StoredMessage> found;
        try
        {
            found = await _services.Store.PendingAsync(Address, request.Exclude, request.Limit, _stop.Token);
        }
        catch (Exception e)
        {
            Interlocked.Exchange(ref _readStartedAt, 0);
            lock (_gate) _state.ReadFailed();
            if (e is OperationCanceledException && _stop.IsCancellationRequested) return;
            LogStoreFailed(_services.Logger, e, Address);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _services.Clock, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Kick();
            return;
        }
        Interlocked.Exchange(ref _readStartedAt, 0);
        var frames = new Dictionary<Guid, byte[]>(found.Count);
        foreach (var m in found) frames[m.Id] = FrameCodec.Message(m.Id, m.Sender, m.ClientId, Convert.ToBase64String(m.Body), m.SentAt);
        ReadOutcome outcome;
        lock (_gate)
        {
            outcome = _state.EndRead(found, request.Limit);
            if (!_closed)
            {
                foreach (var m in outcome.Push) _closed |= !_emit(frames[m.Id]);
                if (outcome.Synced) _closed |= !_emit(FrameCodec.Synced);
            }
        }
        MessagesMetrics.Delivered.Add(outcome.Push.Count, MessagesMetrics.FromMailbox);
        if (_services.Logger.IsEnabled(LogLevel.Debug)) LogRead(_services.Logger, Address, found.Count, outcome.Push.Count, outcome.Synced);
        foreach (var id in outcome.AckAgain) _services.Writer.Delete(Address, id);
        Kick();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Socket of {Username} started after {Milliseconds:0} ms")]
    private static partial void LogStarted(ILogger logger, string username, double milliseconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Socket of {Username}: offer of {MessageId} answered {Decision}; {State}")]
    private static partial void LogOffer(ILogger logger, string username, Guid messageId, OfferDecision decision, string state);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Socket of {Username}: mailbox read found {Found}, pushed {Pushed}, synced {Synced}")]
    private static partial void LogRead(ILogger logger, string username, int found, int pushed, bool synced);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket of {Username} looks stuck: {Problem}")]
    private static partial void LogStuck(ILogger logger, string username, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket of {Username} waited {Seconds:0.0} s for the other instances' flush before its first read")]
    private static partial void LogSlowStart(ILogger logger, string username, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket of {Username} still waits to hear that refused messages were stored: {State}")]
    private static partial void LogStillWaiting(ILogger logger, string username, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket of {Username}: instance {Origin} stopped running; what it held was never accepted, so it is not waited for")]
    private static partial void LogGaveUp(ILogger logger, string username, Guid origin);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket of {Username}: could not ask the origins of refused messages what became of them; asking again")]
    private static partial void LogAskFailed(ILogger logger, Exception e, string username);

    [LoggerMessage(Level = LogLevel.Error, Message = "Mailbox of {Username}: the store failed")]
    private static partial void LogStoreFailed(ILogger logger, Exception e, string username);
}
