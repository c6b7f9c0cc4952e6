using System.Diagnostics;

namespace Sealpost.Testing;

/// <summary>HAProxy with deploy/haproxy.cfg on a free loopback port, in front of the given instances, as scripts/up runs it.</summary>
public sealed class HaproxyProcess : IAsyncDisposable
{
    private readonly Process _process;

    private HaproxyProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public Uri BaseUrl => new($"http://127.0.0.1:{Port}/");

    /// <summary>
    /// Starts HAProxy and waits until it answers. A messages address may point at nothing (REST-only tests); extra
    /// environment overrides the config's settings, such as the per-address limits.
    /// </summary>
    public static async Task<HaproxyProcess> StartAsync(
        IReadOnlyList<int> usersPorts, IReadOnlyList<int> messagesPorts, IReadOnlyDictionary<string, string>? environment = null, int? port = null)
    {
        port ??= ServiceProcess.FreePort();
        var pidFile = Path.Combine(TestEnvironment.WorkDir, $"haproxy-{port}.pid");
        var info = new ProcessStartInfo("haproxy") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "-db", "-f", Path.Combine(TestEnvironment.RepoRoot, "deploy", "haproxy.cfg"), "-p", pidFile }) info.ArgumentList.Add(arg);
        info.Environment["SEALPOST_DEPLOY"] = Path.Combine(TestEnvironment.RepoRoot, "deploy");
        info.Environment["SEALPOST_BIND"] = $"127.0.0.1:{port}";
        info.Environment["SEALPOST_USERS_1"] = $"127.0.0.1:{usersPorts[0]}";
        info.Environment["SEALPOST_USERS_2"] = $"127.0.0.1:{usersPorts[^1]}";
        info.Environment["SEALPOST_MESSAGES_1"] = $"127.0.0.1:{messagesPorts[0]}";
        info.Environment["SEALPOST_MESSAGES_2"] = $"127.0.0.1:{messagesPorts[^1]}";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var haproxy = new HaproxyProcess(process, port.Value);
        using var http = new HttpClient { BaseAddress = haproxy.BaseUrl, Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 100; i++)
        {
            if (process.HasExited) throw new InvalidOperationException($"HAProxy exited with {process.ExitCode}");
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

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
