using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Sealpost.Testing;

/// <summary>
/// One instance of a Sealpost service, run as its own process from its build output on a free loopback port,
/// configured through command-line settings, the way scripts/up runs it.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly string _project;
    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentQueue<string> _warnings = new();
    private readonly ConcurrentQueue<string> _all = new();
    private bool _afterWarning;
    private Process? _process;

    private ServiceProcess(string project, IReadOnlyDictionary<string, string> settings, int port)
    {
        _project = project;
        _settings = settings;
        Port = port;
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Port { get; }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    private string PidFile => TestEnvironment.PidFile($"{_project}-{Port}");

    /// <summary>The last lines the process printed, for failure messages.</summary>
    public string RecentOutput => string.Join('\n', _output);

    /// <summary>The last warnings and errors the process logged (the simple console format starts them "warn:"/"fail:"), with the line after each.</summary>
    public string RecentWarnings => string.Join('\n', _warnings);

    /// <summary>Every line of the process's log (the simple format: level line, then message line) whose message mentions <paramref name="text"/>, the last <paramref name="max"/>.</summary>
    public string LinesMentioning(string text, int max = 40)
    {
        var lines = _all.ToArray();
        var found = new List<string>();
        for (var i = 1; i < lines.Length; i++)
            if (lines[i].Contains(text, StringComparison.Ordinal)) found.Add(lines[i - 1].Trim() + " " + lines[i].Trim());
        return string.Join('\n', found.TakeLast(max));
    }

    public static async Task<ServiceProcess> StartAsync(string project, IReadOnlyDictionary<string, string> settings, int? port = null)
    {
        var service = new ServiceProcess(project, settings, port ?? Ports.Free());
        await service.StartAsync();
        return service;
    }

    public async Task StartAsync()
    {
        var dll = Path.Combine(TestEnvironment.RepoRoot, "src", _project, "bin", TestEnvironment.Configuration, "net10.0", _project + ".dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"{dll} is missing: build the solution first (scripts/test does).");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // The build output holds appsettings.json, the defaults every setting below overrides.
            WorkingDirectory = Path.GetDirectoryName(dll),
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add($"--urls=http://127.0.0.1:{Port}");
        foreach (var (key, value) in _settings) info.ArgumentList.Add($"--{key}={value}");
        info.Environment["Logging__Console__FormatterName"] = "simple";
        info.Environment["DOTNET_gcServer"] = "0";

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        // So scripts/test stops it by its pid file if this test run is killed before it can.
        await File.WriteAllTextAsync(PidFile, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) throw new InvalidOperationException($"{_project} exited with {process.ExitCode}:\n{RecentOutput}");
            try
            {
                using var response = await Http.GetAsync("healthz");
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{_project} did not answer /healthz within 60 s:\n{RecentOutput}");
    }

    /// <summary>SIGKILL: the process gets no chance to tidy up.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } process) return;
        var pid = process.Id;
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        File.Delete(PidFile);
        RemoveRuntimeLeftovers(pid);
    }

    // A .NET process removes its diagnostics socket and debugger pipes from the temporary folder when it exits, but not
    // when it is killed: without this, every test run would leave a few dozen of them behind. A file of the same pid
    // that is not ours (an earlier process's, another user's) is left alone.
    private static void RemoveRuntimeLeftovers(int pid)
    {
        var temp = Path.GetTempPath();
        foreach (var pattern in new[] { $"dotnet-diagnostic-{pid}-*-socket", $"clr-debug-pipe-{pid}-*" })
            foreach (var file in Directory.EnumerateFiles(temp, pattern))
            {
                try
                {
                    File.Delete(file);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }
    }

    /// <summary>SIGTERM, then waits for the process to finish its graceful shutdown.</summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        if (_process is not { HasExited: false } process) return;
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        using var wait = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(wait.Token);
            File.Delete(PidFile);
        }
        catch (OperationCanceledException)
        {
            await KillAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        Http.Dispose();
    }


    private void Remember(string? line)
    {
        if (line is null) return;
        _all.Enqueue(line);
        while (_all.Count > 200_000) _all.TryDequeue(out _);
        _output.Enqueue(line);
        while (_output.Count > 200) _output.TryDequeue(out _);
        // The simple formatter writes the level and category on one line and the message on the next.
        var warning = line.StartsWith("warn:", StringComparison.Ordinal) || line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal);
        if (warning || _afterWarning)
        {
            _warnings.Enqueue(line);
            while (_warnings.Count > 60) _warnings.TryDequeue(out _);
        }
        _afterWarning = warning;
    }
}
