namespace Sealpost.Testing;

/// <summary>
/// HAProxy with deploy/haproxy.cfg on free loopback ports, in front of the given instances, started by the same
/// <c>start_haproxy</c> (scripts/lib.sh) as scripts/up and stopped by its pid file.
/// </summary>
public sealed class HaproxyProcess : IAsyncDisposable
{
    private readonly string _pidFile;

    private HaproxyProcess(string pidFile, int port, int statsPort)
    {
        _pidFile = pidFile;
        Port = port;
        StatsPort = statsPort;
    }

    public int Port { get; }

    /// <summary>HAProxy's own Prometheus metrics (<c>/metrics</c>) and stats page.</summary>
    public int StatsPort { get; }

    public Uri BaseUrl => new($"http://127.0.0.1:{Port}/");

    /// <summary>
    /// Starts HAProxy and waits until it answers. A messages address may point at nothing (REST-only tests); extra
    /// environment overrides the config's settings, such as the per-address limits.
    /// </summary>
    public static async Task<HaproxyProcess> StartAsync(
        IReadOnlyList<int> usersPorts, IReadOnlyList<int> messagesPorts, IReadOnlyDictionary<string, string>? environment = null, int? port = null)
    {
        port ??= Ports.Free();
        var stats = Ports.Free();
        var pidFile = TestEnvironment.PidFile($"haproxy-{port}");
        await ScriptLib.RunAsync("start_haproxy",
            [pidFile, Path.Combine(TestEnvironment.WorkDir, $"haproxy-{port}.log"), $"127.0.0.1:{port}", $"127.0.0.1:{stats}",
             $"127.0.0.1:{usersPorts[0]}", $"127.0.0.1:{usersPorts[^1]}", $"127.0.0.1:{messagesPorts[0]}", $"127.0.0.1:{messagesPorts[^1]}"],
            environment);
        var haproxy = new HaproxyProcess(pidFile, port.Value, stats);
        using var http = new HttpClient { BaseAddress = haproxy.BaseUrl, Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var response = await http.GetAsync(".well-known/jwks.json");
                if (response.IsSuccessStatusCode) return haproxy;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not up yet
            }
            await Task.Delay(100);
        }
        await haproxy.DisposeAsync();
        throw new TimeoutException("HAProxy did not come up");
    }

    public async ValueTask DisposeAsync() => await ScriptLib.RunAsync("stop_pidfile", [_pidFile]);
}
