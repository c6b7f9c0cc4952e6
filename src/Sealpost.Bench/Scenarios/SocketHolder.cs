using System.Collections.Concurrent;
using Sealpost.Testing;

namespace Sealpost.Bench.Scenarios;

/// <summary>
/// Holds many authenticated, idle sockets: each waits with a zero-byte read (which also answers the server's pings)
/// and acks any message that arrives. Used in-process and by <c>connections-worker</c> child processes.
/// </summary>
public sealed class SocketHolder : IAsyncDisposable
{
    private readonly ConcurrentBag<(ProtocolClient Socket, Task Loop)> _sockets = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpMessageInvoker _invoker;
    private readonly ProtocolClientOptions _lean;
    private volatile bool _closing;
    private int _opened;
    private int _failed;
    private long _messages;

    public SocketHolder()
    {
        _invoker = ProtocolClient.CreateInvoker();
        _lean = ProtocolClientOptions.Lean(_invoker);
    }

    public int Opened => Volatile.Read(ref _opened);

    public int Failed => Volatile.Read(ref _failed);

    public long Messages => Interlocked.Read(ref _messages);

    public ConcurrentDictionary<string, long> FailReasons { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, long> Dropped { get; } = new(StringComparer.Ordinal);

    public int StillOpen => _sockets.Count(s => !s.Loop.IsCompleted);

    public async Task OpenAsync(IReadOnlyList<(Uri Endpoint, string Token)> targets, int concurrency, CancellationToken ct)
    {
        await Parallel.ForEachAsync(targets, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct }, async (target, token) =>
        {
            try
            {
                var socket = await ProtocolClient.ConnectAsync(target.Endpoint, target.Token, _lean, token);
                _sockets.Add((socket, HoldAsync(socket)));
                Interlocked.Increment(ref _opened);
            }
            catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failed);
                FailReasons.AddOrUpdate(Describe(e), 1, (_, n) => n + 1);
            }
        });
    }

    private async Task HoldAsync(ProtocolClient socket)
    {
        try
        {
            await socket.ReceiveLoopAsync(async (frame, _) =>
            {
                if (frame.Kind != FrameKind.Message) return;
                Interlocked.Increment(ref _messages);
                await socket.AckCoalescedAsync(frame.MessageId, _stop.Token);
            }, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
        {
            // Closed; recorded below.
        }
        if (!_closing) Dropped.AddOrUpdate($"{(int?)socket.CloseStatus} {socket.CloseDescription}".Trim(), 1, (_, n) => n + 1);
    }

    public async Task CloseAllAsync()
    {
        _closing = true;
        await Parallel.ForEachAsync(_sockets, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (s, _) => await s.Socket.CloseOutputAsync());
        await _stop.CancelAsync();
        await Task.WhenAll(_sockets.Select(s => s.Loop));
        foreach (var (socket, _) in _sockets) await socket.DisposeAsync();
    }

    private static string Describe(Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null) inner = inner.InnerException;
        return inner == e ? e.GetType().Name + ": " + e.Message : $"{e.GetType().Name}: {inner.Message}";
    }

    public async ValueTask DisposeAsync()
    {
        if (!_closing) await CloseAllAsync();
        _invoker.Dispose();
        _stop.Dispose();
    }
}
