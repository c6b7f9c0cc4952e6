using System.Collections.Concurrent;
using System.Net.WebSockets;
using Sealpost.Messages.Delivery;
using Sealpost.Messages.Monitoring;

namespace Sealpost.Messages.Sockets;

/// <summary>
/// The only writer to one socket: frames leave in the order they were queued, the close handshake after them. A peer
/// that lets its queue grow past <see cref="SocketOptions.SendQueueLimit"/>, or leaves a write waiting longer than
/// <see cref="SocketOptions.SendTimeout"/>, is cut off rather than allowed to hold memory. <see cref="Stopped"/> fires
/// when the socket should stop being read.
/// </summary>
internal sealed partial class FrameWriter(WebSocket socket, SocketOptions options, TimeProvider clock, MessagesMetrics metrics, ILogger logger, string connectionId)
    : IFrameSink
{
    private static readonly byte[] CloseMarker = [];
    private readonly Lock _gate = new();
    private readonly ConcurrentQueue<byte[]> _outbox = new();
    private readonly CancellationTokenSource _stop = new();
    private int _queued;
    private int _writing;
    private bool _closing;
    private WebSocketCloseStatus _closeStatus;
    private string _closeReason = "";
    private bool _closeSent;

    /// <summary>Cancelled once the socket should no longer be read: it broke, its peer stopped reading, or it was closed.</summary>
    public CancellationToken Stopped => _stop.Token;

    public bool Emit(byte[] frame)
    {
        lock (_gate)
        {
            if (_closing) return false;
            if (++_queued > options.SendQueueLimit)
            {
                _closing = true;
                metrics.SocketsDropped.Add(1, MessagesMetrics.SlowReader);
                LogSlowReader(logger, connectionId);
                _ = _stop.CancelAsync();
                return false;
            }
            _outbox.Enqueue(frame);
        }
        Pump();
        return true;
    }

    public void Close(int code, string reason)
    {
        lock (_gate)
        {
            if (_closing) return;
            _closing = true;
            _closeStatus = (WebSocketCloseStatus)code;
            _closeReason = reason;
            _outbox.Enqueue(CloseMarker);
        }
        Pump();
    }

    /// <summary>Closes at once, before anything is queued (the socket was refused).</summary>
    public Task RefuseAsync(int code, string reason)
    {
        lock (_gate) _closing = true;
        return CloseOutputAsync((WebSocketCloseStatus)code, reason);
    }

    /// <summary>The socket is ending: what is queued (a close, say) goes out first, a write that is stuck is cut off, then a close the peer began is answered.</summary>
    public async Task FinishAsync()
    {
        lock (_gate) _closing = true;
        for (var waited = 0; waited < 250 && (!_outbox.IsEmpty || Volatile.Read(ref _writing) != 0) && !_closeSent && !_stop.IsCancellationRequested; waited++)
            await Task.Delay(20, CancellationToken.None);
        await _stop.CancelAsync();
        if (socket.State == WebSocketState.CloseReceived) await CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "");
    }

    /// <summary>
    /// Writes what is queued, unless a write is running already (it will take the new frames too). The first frames are
    /// written inline, by whoever queued them: Kestrel's pipe usually takes the bytes at once, so a frame costs no thread
    /// hop, and frames that come together leave in one socket write. A write that must wait goes on by itself.
    /// </summary>
    private void Pump()
    {
        if (Interlocked.CompareExchange(ref _writing, 1, 0) == 0) _ = DrainAsync();
    }

    private async Task DrainAsync()
    {
        try
        {
            while (true)
            {
                while (_outbox.TryDequeue(out var frame))
                {
                    if (ReferenceEquals(frame, CloseMarker))
                    {
                        // Nothing is written after the close; _writing stays set.
                        await CloseOutputAsync(_closeStatus, _closeReason);
                        return;
                    }
                    var sending = socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                    // A ValueTask is consumed exactly once, also when it completed at once: its source may be pooled.
                    if (sending.IsCompleted) sending.GetAwaiter().GetResult();
                    else
                    {
                        // A peer that does not read for this long is cut off (its socket aborted, the write fails).
                        using var timeout = new CancellationTokenSource(options.SendTimeout, clock);
                        await using var abort = timeout.Token.Register(socket.Abort);
                        await sending;
                    }
                    metrics.FrameSent(frame);
                    Interlocked.Decrement(ref _queued);
                }
                Volatile.Write(ref _writing, 0);
                if (_outbox.IsEmpty || Interlocked.CompareExchange(ref _writing, 1, 0) != 0) return;
            }
        }
        catch (Exception e)
        {
            // The socket broke, or a write waited too long: stop reading from it too (callbacks off this thread, which
            // may hold a delivery lock). Nothing else is expected here; if it comes, it is logged, never swallowed.
            if (e is not (OperationCanceledException or WebSocketException or ObjectDisposedException or IOException)) LogWriteFailed(logger, e, connectionId);
            _ = _stop.CancelAsync();
        }
    }

    private async Task CloseOutputAsync(WebSocketCloseStatus status, string reason)
    {
        if (_closeSent) return;
        _closeSent = true;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await socket.CloseOutputAsync(status, reason, timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            socket.Abort();
        }
        // The peer answers the close and the receive loop ends; a peer that does not answer is cut off.
        _stop.CancelAfter(TimeSpan.FromSeconds(5));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Connection {ConnectionId}: writing to the socket failed; closing it")]
    private static partial void LogWriteFailed(ILogger logger, Exception e, string connectionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {ConnectionId} does not read its frames; dropping it")]
    private static partial void LogSlowReader(ILogger logger, string connectionId);
}
