using Sealpost.Messages.Frames;
using Sealpost.Messages.Mailboxes;
using Sealpost.Messages.Monitoring;

namespace Sealpost.Messages.Delivery;

/// <summary>
/// The delivery side of one socket of a device, without the socket: its <see cref="DeliveryState"/> under one lock, the
/// mailbox reads the state asks for, and acks passed to <see cref="Origins"/>. What it decides to send goes to its
/// <see cref="IFrameSink"/>, called under the lock, so frames leave in the order they were decided. Opened and closed
/// by <see cref="DeviceSessions"/>; the socket's timer calls <see cref="TickAsync"/>; the model test drives it directly.
/// </summary>
internal sealed partial class DeviceSession
{
    private static readonly TimeSpan SlowStart = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan StuckWindowCheck = TimeSpan.FromSeconds(10);
    private const int PatientRoundsBeforeWarning = 5;
    private const int AsksBeforeGivingUp = 10;
    private readonly IFrameSink _sink;
    private readonly IMailboxStore _store;
    private readonly Origins _origins;
    private readonly ClusterFlush _flush;
    private readonly DeliveryOptions _options;
    private readonly TimeProvider _clock;
    private readonly MessagesMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly DeliveryState _state;
    private readonly CancellationTokenSource _stop = new();
    private readonly long _createdAt;
    private int _patienceArmed;
    private long _lastProgress;
    private long _lastPoll;
    private TimeSpan _poll;
    private bool _closed;
    private bool _started;    // the flush is done: mailbox reads may begin
    private long _readStartedAt;
    private bool _reported;

    /// <summary>A session for the device <paramref name="address"/> (<see cref="Identity.DeviceAddress"/>), opened by the token of <paramref name="session"/>, writing to <paramref name="sink"/>.</summary>
    public DeviceSession(string address, Guid session, IFrameSink sink, IMailboxStore store, Origins origins, ClusterFlush flush,
        DeliveryOptions options, TimeProvider clock, MessagesMetrics metrics, ILogger logger)
    {
        Address = address;
        Session = session;
        _sink = sink;
        _store = store;
        _origins = origins;
        _flush = flush;
        _options = options;
        _clock = clock;
        _metrics = metrics;
        _logger = logger;
        _state = new DeliveryState(options.DeliveryWindow, options.RefusalPatience);
        _createdAt = _lastProgress = _lastPoll = clock.GetTimestamp();
        _poll = NextPoll();
    }

    public string Address { get; }

    /// <summary>The session whose token opened (or last renewed) the socket: when it ends, the socket closes.</summary>
    public Guid Session { get; set; }

    private long NowMs => (long)(_clock.GetTimestamp() * 1000.0 / _clock.TimestampFrequency);

    /// <summary>
    /// Starts delivering: once every instance has stored what it held for this device (<see cref="ClusterFlush"/>),
    /// the first mailbox read. Until that read, live messages are refused and reach the socket through the mailbox.
    /// </summary>
    public async Task StartAsync()
    {
        var started = _clock.GetTimestamp();
        try
        {
            await _flush.FlushAsync(Address, _stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception e)
        {
            // Never expected; the socket must start all the same.
            LogStoreFailed(_logger, e, Address);
        }
        var took = _clock.GetElapsedTime(started);
        if (took > SlowStart) LogSlowStart(_logger, Address, took.TotalSeconds);
        lock (_gate) _started = true;
        LogStarted(_logger, Address, took.TotalMilliseconds);
        Kick();
    }

    /// <summary>Stops: nothing more is emitted or read. What is in flight unacknowledged stays where it is (mailbox or origin).</summary>
    public void Stop()
    {
        lock (_gate) _closed = true;
        _stop.Cancel();
    }

    /// <summary>Asks the socket to close, after what is queued.</summary>
    public void Close(int code, string reason) => _sink.Close(code, reason);

    /// <summary>A message offered live (from this instance or another); pushed at once if the state allows.</summary>
    public OfferDecision Offer(Guid messageId, Guid origin, byte[] frame, Guid after = default)
    {
        OfferDecision decision;
        lock (_gate)
        {
            if (_closed) return OfferDecision.Ignore;
            decision = _state.OnOffer(messageId, origin, NowMs, after);
            if (decision == OfferDecision.Push && !_sink.Emit(frame)) _closed = true;
            if (decision != OfferDecision.Push && _logger.IsEnabled(LogLevel.Debug)) LogOffer(_logger, Address, messageId, decision, _state.Describe());
        }
        if (decision == OfferDecision.Push) _metrics.Delivered.Add(1, MessagesMetrics.Live);
        // If the news that it was stored never comes (its origin died), read the mailbox anyway after a while.
        if (decision == OfferDecision.Refuse && Interlocked.Exchange(ref _patienceArmed, 1) == 0) _ = RefuseAgainWhilePatientAsync();
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
        List<(Guid, Guid)>? acked = null;
        foreach (var id in ids)
        {
            Guid? origin;
            lock (_gate) origin = _state.OnAck(id);
            // Not in flight here: acked already, or never sent to this socket.
            if (origin is { } from) (acked ??= new(ids.Length)).Add((id, from));
        }
        if (acked is null) return;
        _metrics.Acknowledged.Add(acked.Count);
        _origins.Acked(this, acked);
        Interlocked.Exchange(ref _lastProgress, _clock.GetTimestamp());
        Kick();
    }

    /// <summary>
    /// The socket's timer: the safety poll when it is due, a full window that nothing acknowledges here (acks elsewhere
    /// may have freed it), and a delivery that looks stuck. Returns how long until it wants to be called again.
    /// </summary>
    public async Task<TimeSpan> TickAsync(CancellationToken ct)
    {
        if (_clock.GetElapsedTime(_lastPoll) >= _poll)
        {
            _lastPoll = _clock.GetTimestamp();
            // Jittered, so thousands of idle sockets do not all read their mailboxes in the same second.
            _poll = NextPoll();
            Wake();
        }
        await CheckStuckWindowAsync(ct);
        ReportIfStuck();
        var untilPoll = _poll - _clock.GetElapsedTime(_lastPoll);
        return untilPoll < StuckWindowCheck ? untilPoll : StuckWindowCheck;
    }

    private TimeSpan NextPoll() => _options.SafetyPollInterval * (0.75 + Random.Shared.NextDouble() / 2);

    // A full window with no ack here for a while: acks on the device's other instances may have deleted these messages.
    // Checks the store and lets the gone ones out of the window.
    private async Task CheckStuckWindowAsync(CancellationToken ct)
    {
        IReadOnlyCollection<Guid> fromStore;
        lock (_gate)
        {
            if (!_state.WindowFull || _clock.GetElapsedTime(Interlocked.Read(ref _lastProgress)) < StuckWindowCheck) return;
            fromStore = _state.InFlightFromStore;
        }
        try
        {
            var still = await _store.StillPendingAsync(Address, fromStore, ct);
            lock (_gate) _state.KeepOnly(still);
            Interlocked.Exchange(ref _lastProgress, _clock.GetTimestamp());
            Kick();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStoreFailed(_logger, e, Address);
        }
    }

    // Logs, once per socket, a delivery that looks stuck: not started (its flush unfinished), or a mailbox read that has
    // not come back, for longer than the stuck-window check.
    private void ReportIfStuck()
    {
        string? problem = null;
        lock (_gate)
        {
            if (_reported || _closed) return;
            if (!_started && _clock.GetElapsedTime(_createdAt) > StuckWindowCheck) problem = "not started: the flush has not finished";
            else if (_readStartedAt != 0 && _clock.GetElapsedTime(_readStartedAt) > StuckWindowCheck) problem = "a mailbox read has not come back";
            if (problem is null) return;
            _reported = true;
            problem += "; " + _state.Describe();
        }
        LogStuck(_logger, Address, problem);
    }

    /// <summary>Starts the mailbox read the state asks for, if it asks for one.</summary>
    private void Kick()
    {
        ReadRequest? request;
        lock (_gate)
        {
            // No read before the flush: one could miss what another instance still held for this device.
            if (_closed || !_started) return;
            request = _state.BeginRead(NowMs);
        }
        if (request is null) return;
        Interlocked.Exchange(ref _readStartedAt, _clock.GetTimestamp());
        _ = ReadAsync(request);
    }

    // Runs while refusals are outstanding. A living origin announces what became of every message it was told to
    // store, but the announcement travels over the bus, which drops what is published while a connection is down. So
    // each round asks the origins of refusals older than the patience again, and gives up on origins that died (what
    // they held was never accepted).
    private async Task RefuseAgainWhilePatientAsync()
    {
        var failedAsks = 0;
        for (var round = 1; ; round++)
        {
            try
            {
                await Task.Delay(_options.RefusalPatience, _clock, _stop.Token);
                IReadOnlyCollection<IGrouping<Guid, Guid>> overdue;
                lock (_gate) overdue = _state.Overdue(NowMs);
                foreach (var origin in await _origins.RefuseAgainAsync(Address, overdue))
                {
                    LogGaveUp(_logger, Address, origin);
                    lock (_gate) _state.GiveUpOn(origin);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                // The bus is away (the origin cannot be asked): the next round asks again, for a while. A socket must not
                // wait on a bus that stays broken: then it reads what was stored without that answer (a refused message
                // its origin stores later still comes, from the mailbox, if later than its turn).
                LogAskFailed(_logger, e, Address);
                if (++failedAsks >= AsksBeforeGivingUp)
                {
                    LogGaveUpAsking(_logger, Address, failedAsks);
                    lock (_gate) foreach (var origin in _state.Overdue(long.MaxValue).Select(g => g.Key)) _state.GiveUpOn(origin);
                    failedAsks = 0;
                }
            }
            Kick();
            lock (_gate)
            {
                if (_closed || !_state.HasRefusals)
                {
                    _patienceArmed = 0;
                    return;
                }
                if (round == PatientRoundsBeforeWarning) LogStillWaiting(_logger, Address, _state.Describe());
            }
        }
    }

    private async Task ReadAsync(ReadRequest request)
    {
        IReadOnlyList<StoredMessage> found;
        try
        {
            found = await _store.PendingAsync(Address, request.Exclude, request.Limit, _stop.Token);
        }
        catch (Exception e)
        {
            Interlocked.Exchange(ref _readStartedAt, 0);
            lock (_gate) _state.ReadFailed();
            if (e is OperationCanceledException && _stop.IsCancellationRequested) return;
            LogStoreFailed(_logger, e, Address);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _clock, _stop.Token);
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
                foreach (var m in outcome.Push) _closed |= !_sink.Emit(frames[m.Id]);
                if (outcome.Synced) _closed |= !_sink.Emit(FrameCodec.Synced);
            }
        }
        _metrics.Delivered.Add(outcome.Push.Count, MessagesMetrics.FromMailbox);
        if (_logger.IsEnabled(LogLevel.Debug)) LogRead(_logger, Address, found.Count, outcome.Push.Count, outcome.Synced);
        _origins.AckedAgain(Address, outcome.AckAgain);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket of {Username}: the origins of refused messages could not be asked {Asks} times in a row; reading the mailbox without their answer")]
    private static partial void LogGaveUpAsking(ILogger logger, string username, int asks);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket of {Username}: could not ask the origins of refused messages what became of them; asking again")]
    private static partial void LogAskFailed(ILogger logger, Exception e, string username);

    [LoggerMessage(Level = LogLevel.Error, Message = "Mailbox of {Username}: the store failed")]
    private static partial void LogStoreFailed(ILogger logger, Exception e, string username);
}
