using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sealpost.Bench.Infrastructure;

namespace Sealpost.Bench.Scenarios;

public sealed record ConnectionsOptions(int Count, int Processes, int SocketsPerUser, TimeSpan Settle, TimeSpan Idle, int ConnectConcurrency);

/// <summary>
/// C authenticated sockets held open and idle. Reports the messages processes' resident memory per socket (VmRSS
/// before and after) and the CPU they use to keep idle sockets (pings). A process may hold at most ~19,000 sockets
/// here (20,000 descriptors), so larger counts are spread over child processes (<c>--processes</c>), and beyond
/// HAProxy's maxconn the sockets go straight to the instances (<c>--direct</c>).
/// </summary>
public sealed class Connections(Context context, ConnectionsOptions options)
{
    private const int MaxSocketsPerProcess = 19_000;
    private readonly List<Child> _children = [];

    public async Task<Report> RunAsync(CancellationToken ct)
    {
        var report = context.NewReport("connections");
        var c = options.Count;
        if ((c + options.Processes - 1) / options.Processes > MaxSocketsPerProcess)
            throw new BenchException($"{c:N0} sockets over {options.Processes} process(es) is more than {MaxSocketsPerProcess:N0} each (this machine allows 20,000 open files per process): add --processes.");
        var endpoints = Target.SocketEndpoints(context.Options.Url, context.Options.Direct);
        if (context.Options.Direct is null && c > 9_000)
            report.Warn("more than ~9,000 sockets through HAProxy exceeds its maxconn (9,500, two descriptors per socket); use --direct for the rest.");
        var users = (c + options.SocketsPerUser - 1) / options.SocketsPerUser;
        await context.Pool.EnsureAsync(users, context.Api, 4, ct);
        await context.Pool.RefreshAsync(0, users, context.Api, 16, ct);
        var targets = Enumerable.Range(0, c).Select(i => (endpoints[i % endpoints.Count], context.Pool.Users[i % users].AccessToken!)).ToList();

        var messages = context.Probe.Pids("messages");
        var haproxy = context.Probe.Pids("haproxy");
        if (messages.Count == 0) throw new BenchException("found no messages processes: pass --pids, or run from the checkout whose scripts/up started the system.");
        var watched = messages.Select(p => ("messages", p)).Concat(context.Options.Direct is null ? haproxy.Select(p => ("haproxy", p)) : []).ToList();

        Console.Error.WriteLine($"idle CPU with no benchmark sockets ({options.Idle.TotalSeconds:0} s)…");
        var rssBefore = Rss(watched);
        var cpuIdleBefore = await SampleAsync(options.Idle, ct);

        Console.Error.WriteLine($"opening {c:N0} sockets to {string.Join(", ", endpoints)} from {options.Processes} process(es)…");
        var start = Clock.Now;
        SocketHolder? local = null;
        if (options.Processes == 1)
        {
            local = new SocketHolder();
            using (new Progress(() => $"sockets {local.Opened:N0}/{c:N0}  failed {local.Failed:N0}"))
                await local.OpenAsync(targets, options.ConnectConcurrency, ct);
        }
        else
        {
            var share = (c + options.Processes - 1) / options.Processes;
            for (var i = 0; i < options.Processes; i++)
                _children.Add(await Child.StartAsync(targets.Skip(i * share).Take(share).ToList(), Math.Max(1, options.ConnectConcurrency / options.Processes), ct));
            using (new Progress(() => $"sockets {_children.Sum(x => x.Opened):N0}/{c:N0}  failed {_children.Sum(x => x.Failed):N0}"))
                await Task.WhenAll(_children.Select(x => x.Ready));
        }
        var openSeconds = Clock.SecondsSince(start);
        var opened = local?.Opened ?? _children.Sum(x => x.Opened);
        var failed = local?.Failed ?? _children.Sum(x => x.Failed);
        Console.Error.WriteLine($"{opened:N0} sockets open in {openSeconds:0.0} s; settling {options.Settle.TotalSeconds:0} s, then idle CPU over {options.Idle.TotalSeconds:0} s…");
        await Task.Delay(options.Settle, ct);
        var rssAfter = Rss(watched);
        var cpuIdleAfter = await SampleAsync(options.Idle, ct);
        var benchRss = SystemProbe.RssKiB(Environment.ProcessId) + _children.Sum(x => SystemProbe.RssKiB(x.Pid) ?? 0);

        int stillOpen;
        Dictionary<string, long> dropped;
        if (local is not null)
        {
            stillOpen = local.StillOpen;
            dropped = new(local.Dropped);
            await local.DisposeAsync();
        }
        else
        {
            foreach (var child in _children) await child.StatusAsync();
            stillOpen = _children.Sum(x => x.StillOpen);
            dropped = _children.SelectMany(x => x.Dropped).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value));
            await Task.WhenAll(_children.Select(x => x.CloseAsync()));
        }
        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        var rssClosed = Rss(watched);

        var setup = report.Add("setup")
            .Figure("sockets", "sockets requested", c, "")
            .Figure("accounts", "accounts", users, $"({options.SocketsPerUser} socket(s) each)")
            .Figure("processes", "load-generator processes", options.Processes, "")
            .Text("endpoints", "socket endpoints", string.Join(", ", endpoints));
        report.Add("connecting")
            .Figure("opened", "opened", opened, "")
            .Figure("failed", "failed to open", failed, "")
            .Figure("open_s", "all open after", openSeconds, "s", "0.0")
            .Figure("opens_per_s", "connects (authenticated upgrades)", opened / openSeconds, "/s");
        var memory = report.Add("memory");
        var deltaMessages = 0L;
        foreach (var (role, pid) in watched)
        {
            var before = rssBefore.GetValueOrDefault(pid);
            var after = rssAfter.GetValueOrDefault(pid);
            memory.Text($"rss_{role}_{pid}", $"{role} pid {pid} VmRSS", string.Create(CultureInfo.InvariantCulture,
                $"{before / 1024.0:N1} MiB → {after / 1024.0:N1} MiB with the sockets → {rssClosed.GetValueOrDefault(pid) / 1024.0:N1} MiB after closing"));
            if (role == "messages") deltaMessages += after - before;
        }
        memory.Figure("messages_kib_per_socket", "messages service memory per socket", opened == 0 ? 0 : (double)deltaMessages / opened, "KiB", "0.0");
        if (context.Options.Direct is null && haproxy.Count > 0)
            memory.Figure("haproxy_kib_per_socket", "HAProxy memory per socket", opened == 0 ? 0 : (double)haproxy.Sum(p => rssAfter.GetValueOrDefault(p) - rssBefore.GetValueOrDefault(p)) / opened, "KiB", "0.0");
        memory.Figure("bench_kib_per_socket", "load generator memory per socket", opened == 0 ? 0 : (double)(benchRss ?? 0) / opened, "KiB", "0.0");
        var idle = report.Add("idle CPU");
        foreach (var role in cpuIdleAfter.Roles.Keys.Order(StringComparer.Ordinal))
            idle.Text($"cpu_{role}_pct", $"CPU {role}", string.Create(CultureInfo.InvariantCulture,
                $"{cpuIdleBefore.Roles.GetValueOrDefault(role):0.0} % of a core without the sockets, {cpuIdleAfter.Roles[role]:0.0} % with them"));
        if (_idleQueries.Count == 2)
        {
            idle.Text("pg_idle_transactions", "messages db transactions", string.Create(CultureInfo.InvariantCulture,
                $"{_idleQueries[0].Commits:N0}/s without the sockets, {_idleQueries[1].Commits:N0}/s with them (mailbox scans {_idleQueries[0].Scans:N0}/s → {_idleQueries[1].Scans:N0}/s)"));
        }
        idle.Figure("cpu_machine_pct", "CPU whole machine with the sockets", cpuIdleAfter.Machine, $"% of a core (of {Environment.ProcessorCount * 100} %)", "0.0");
        report.Add("accounting")
            .Figure("still_open", "still open at the end", stillOpen, "")
            .Counts("dropped", "closed by the server while idle", dropped)
            .Counts("failures", "why sockets failed to open", local?.FailReasons.ToDictionary() ?? _children.SelectMany(x => x.FailReasons).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value)));
        Context.CheckQuiet(report, cpuIdleAfter);
        if (opened < c) report.Fail($"only {opened:N0} of {c:N0} sockets opened.");
        if (stillOpen < opened) report.Fail($"{opened - stillOpen:N0} sockets were closed by the server while idle.");
        _ = setup;
        return report;
    }

    private async Task<CpuUsage> SampleAsync(TimeSpan span, CancellationToken ct)
    {
        var a = context.Probe.Snapshot();
        var pgA = context.Postgres is null ? null : await context.Postgres.SnapshotAsync(ct);
        await Task.Delay(span, ct);
        var usage = SystemProbe.Between(a, context.Probe.Snapshot());
        if (pgA is not null)
        {
            var pgB = await context.Postgres!.SnapshotAsync(ct);
            var seconds = Clock.Seconds(pgB.Timestamp - pgA.Timestamp);
            _idleQueries.Add(((pgB.MessagesCommits - pgA.MessagesCommits) / seconds, (pgB.MailboxScans - pgA.MailboxScans) / seconds));
        }
        return usage;
    }

    // Transactions and mailbox scans a second in the messages database, without and with the sockets.
    private readonly List<(double Commits, double Scans)> _idleQueries = [];

    private static Dictionary<int, long> Rss(IEnumerable<(string Role, int Pid)> watched) =>
        watched.ToDictionary(w => w.Pid, w => SystemProbe.RssKiB(w.Pid) ?? 0);

    /// <summary>
    /// The child side (<c>sealpost-bench connections-worker FILE</c>): reads "endpoint TAB token" lines, opens them,
    /// reports on stdout and waits for <c>status</c> and <c>close</c> on stdin.
    /// </summary>
    public static async Task<int> WorkerAsync(string file, int concurrency, CancellationToken ct)
    {
        var targets = (await File.ReadAllLinesAsync(file, ct)).Where(l => l.Length > 0)
            .Select(l => l.Split('\t')).Select(p => (new Uri(p[0]), p[1])).ToList();
        File.Delete(file);
        await using var holder = new SocketHolder();
        using var ticker = new Timer(_ => Console.Out.WriteLine($"progress {holder.Opened} {holder.Failed}"), null, 500, 500);
        await holder.OpenAsync(targets, concurrency, ct);
        await ticker.DisposeAsync();
        Console.Out.WriteLine($"ready {holder.Opened} {holder.Failed} {JsonSerializer.Serialize(holder.FailReasons.ToDictionary())}");
        while (await Console.In.ReadLineAsync(ct) is { } line)
        {
            if (line == "status") Console.Out.WriteLine($"status {holder.StillOpen} {JsonSerializer.Serialize(holder.Dropped.ToDictionary())}");
            else if (line == "close") break;
        }
        await holder.CloseAllAsync();
        Console.Out.WriteLine("closed");
        return ExitCodes.Ok;
    }

    /// <summary>One child process holding a share of the sockets.</summary>
    private sealed class Child
    {
        private readonly Process _process;
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _status = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private Child(Process process) => _process = process;

        public int Pid => _process.Id;

        public int Opened { get; private set; }

        public int Failed { get; private set; }

        public int StillOpen { get; private set; }

        public Dictionary<string, long> FailReasons { get; private set; } = [];

        public Dictionary<string, long> Dropped { get; private set; } = [];

        public Task Ready => _ready.Task;

        public static async Task<Child> StartAsync(IReadOnlyList<(Uri Endpoint, string Token)> targets, int concurrency, CancellationToken ct)
        {
            // Tokens go through a private file rather than the command line, which other users can read.
            var folder = Directory.CreateTempSubdirectory("sealpost-bench-");
            var file = Path.Combine(folder.FullName, "targets");
            await File.WriteAllLinesAsync(file, targets.Select(t => t.Endpoint + "\t" + t.Token), ct);
            var self = Environment.ProcessPath!;
            var info = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet") info.ArgumentList.Add(typeof(Connections).Assembly.Location);
            foreach (var a in new[] { "connections-worker", file, "--connect-concurrency", concurrency.ToString(CultureInfo.InvariantCulture) }) info.ArgumentList.Add(a);
            var child = new Child(Process.Start(info) ?? throw new BenchException("could not start a child process."));
            _ = child.ReadAsync(folder);
            return child;
        }

        private async Task ReadAsync(DirectoryInfo folder)
        {
            try
            {
                while (await _process.StandardOutput.ReadLineAsync() is { } line)
                {
                    var parts = line.Split(' ', 4);
                    switch (parts[0])
                    {
                        case "progress":
                            Opened = int.Parse(parts[1], CultureInfo.InvariantCulture);
                            Failed = int.Parse(parts[2], CultureInfo.InvariantCulture);
                            break;
                        case "ready":
                            Opened = int.Parse(parts[1], CultureInfo.InvariantCulture);
                            Failed = int.Parse(parts[2], CultureInfo.InvariantCulture);
                            FailReasons = JsonSerializer.Deserialize<Dictionary<string, long>>(parts[3]) ?? [];
                            _ready.TrySetResult();
                            break;
                        case "status":
                            var rest = line.Split(' ', 3);
                            StillOpen = int.Parse(rest[1], CultureInfo.InvariantCulture);
                            Dropped = JsonSerializer.Deserialize<Dictionary<string, long>>(rest[2]) ?? [];
                            _status.TrySetResult();
                            break;
                    }
                }
            }
            finally
            {
                _ready.TrySetException(new BenchException($"child process {_process.Id} ended before its sockets were open."));
                _status.TrySetResult();
                folder.Delete(recursive: true);
            }
        }

        public async Task StatusAsync()
        {
            _status = new(TaskCreationOptions.RunContinuationsAsynchronously);
            await _process.StandardInput.WriteLineAsync("status");
            await _process.StandardInput.FlushAsync();
            await _status.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }

        public async Task CloseAsync()
        {
            await _process.StandardInput.WriteLineAsync("close");
            await _process.StandardInput.FlushAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
            }
            _process.Dispose();
        }
    }
}
