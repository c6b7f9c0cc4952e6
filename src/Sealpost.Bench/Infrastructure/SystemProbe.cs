using System.Globalization;
using Sealpost.Protocol;

namespace Sealpost.Bench.Infrastructure;

/// <summary>
/// Finds the processes of a system started by <c>scripts/up</c> (through the pid files <c>.run/stack.env</c> names) and reads their CPU time and
/// resident memory from /proc, so a report can say which process used the cores while it measured.
/// </summary>
public sealed class SystemProbe
{
    // USER_HZ: the unit of utime and stime in /proc/<pid>/stat; 100 on every Linux this runs on.
    private const double TicksPerSecond = 100.0;
    private readonly Dictionary<string, Func<IReadOnlyList<int>>> _roles = new(StringComparer.Ordinal);

    public IReadOnlyList<int> Pids(string role) => _roles.TryGetValue(role, out var find) ? find() : [];

    /// <param name="stack">What scripts/up started, when it was found.</param>
    /// <param name="messagesPids">The messages processes, when not found through the stack file.</param>
    public static SystemProbe Discover(StackFile? stack, IReadOnlyList<int>? messagesPids)
    {
        var probe = new SystemProbe();
        if (stack is not null)
        {
            foreach (var role in new[] { "messages", "users", "haproxy", "redis", "prometheus" })
            {
                var files = stack.List("pids_" + role);
                if (files.Count > 0) probe._roles[role] = () => PidFiles(files);
            }
            // Each connection is a backend process of its own, a child of the postmaster.
            if (stack["pids_postgres"] is { } postmaster) probe._roles["postgres"] = () => WithChildren(FirstLinePid(postmaster));
        }
        if (messagesPids is { Count: > 0 }) probe._roles["messages"] = () => messagesPids;
        // This program and its connections-worker children.
        probe._roles["bench"] = () => WithChildren(Environment.ProcessId);
        return probe;
    }

    /// <summary>Processes named by pid, each with its children, per role (a system not started by scripts/up), and the benchmark itself.</summary>
    public static SystemProbe Of(IEnumerable<(string Role, IReadOnlyList<int> Pids)> roles)
    {
        var probe = new SystemProbe();
        foreach (var (role, pids) in roles)
            if (pids.Count > 0) probe._roles[role] = () => pids.SelectMany(pid => WithChildren(pid)).ToList();
        probe._roles["bench"] = () => WithChildren(Environment.ProcessId);
        return probe;
    }

    public IEnumerable<string> Roles => _roles.Keys;

    public CpuSnapshot Snapshot()
    {
        var perRole = new Dictionary<string, Dictionary<int, long>>(StringComparer.Ordinal);
        foreach (var (role, find) in _roles)
        {
            var ticks = new Dictionary<int, long>();
            foreach (var pid in find()) if (CpuTicks(pid) is { } t) ticks[pid] = t;
            perRole[role] = ticks;
        }
        var (busy, total) = MachineTicks();
        return new CpuSnapshot(Clock.Now, perRole, busy, total);
    }

    /// <summary>CPU used between two snapshots, in percent of one core (so 200 % is both cores of a 2-core machine).</summary>
    public static CpuUsage Between(CpuSnapshot a, CpuSnapshot b)
    {
        var seconds = Clock.Seconds(b.Timestamp - a.Timestamp);
        var roles = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (role, after) in b.Ticks)
        {
            a.Ticks.TryGetValue(role, out var before);
            long used = 0;
            // A process that appeared during the window (a new database backend) counts from its start.
            foreach (var (pid, t) in after) used += t - (before is not null && before.TryGetValue(pid, out var t0) ? t0 : 0);
            roles[role] = used / TicksPerSecond / seconds * 100;
        }
        var machine = b.MachineTotal == a.MachineTotal ? 0
            : (double)(b.MachineBusy - a.MachineBusy) / (b.MachineTotal - a.MachineTotal) * 100 * Environment.ProcessorCount;
        return new CpuUsage(seconds, roles, machine);
    }

    /// <summary>Resident memory of a process in KiB (VmRSS), or null when it is gone.</summary>
    public static long? RssKiB(int pid)
    {
        foreach (var line in Machine.ReadOr($"/proc/{pid}/status", "").Split('\n'))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        return null;
    }

    public static long? CpuTicks(int pid)
    {
        var stat = Machine.ReadOr($"/proc/{pid}/stat", "");
        // The command name (field 2) may hold spaces; fields after its closing parenthesis are plain.
        var close = stat.LastIndexOf(')');
        if (close < 0) return null;
        var fields = stat[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state): utime is field 14, stime field 15.
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static (long Busy, long Total) MachineTicks()
    {
        var line = Machine.ReadOr("/proc/stat", "").Split('\n')[0];
        var v = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (v.Length < 5) return (0, 0);
        var total = v.Sum();
        return (total - v[3] - v[4], total);   // idle and iowait are not busy
    }

    private static List<int> PidFiles(IReadOnlyList<string> files)
    {
        var pids = new List<int>();
        foreach (var file in files)
            if (FirstLinePid(file) is { } pid && Directory.Exists($"/proc/{pid}")) pids.Add(pid);
        return pids;
    }

    private static int? FirstLinePid(string file) =>
        int.TryParse(Machine.ReadOr(file, "").Split('\n')[0].Trim(), CultureInfo.InvariantCulture, out var pid) ? pid : null;

    private static List<int> WithChildren(int? parent)
    {
        if (parent is not { } root) return [];
        var result = new List<int> { root };
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid)) continue;
            var stat = Machine.ReadOr($"/proc/{pid}/stat", "");
            var close = stat.LastIndexOf(')');
            if (close < 0) continue;
            var fields = stat[(close + 2)..].Split(' ');
            if (fields.Length > 1 && fields[1] == root.ToString(CultureInfo.InvariantCulture)) result.Add(pid);
        }
        return result;
    }
}

public sealed record CpuSnapshot(long Timestamp, Dictionary<string, Dictionary<int, long>> Ticks, long MachineBusy, long MachineTotal);

/// <summary>Percent of one core per role over <see cref="Seconds"/>, and the whole machine's busy percent (of one core, so up to 100 × cores).</summary>
public sealed record CpuUsage(double Seconds, Dictionary<string, double> Roles, double Machine)
{
    /// <param name="section">Where the figures go.</param>
    /// <param name="perSecond">Operations a second in the same window: adds each role's CPU per operation, and the
    /// ceiling the system's own cost (every role but the benchmark) would allow on all of this machine's cores.</param>
    /// <param name="unit">What one operation is ("msg", "lookup").</param>
    public void AddTo(Report.Section section, double perSecond = 0, string unit = "op")
    {
        foreach (var (role, pct) in Roles.OrderByDescending(r => r.Value))
        {
            var text = perSecond > 0 ? $"% of a core = {pct / 100 / perSecond * 1e6:N0} µs per {unit}" : "% of a core";
            section.Figure("cpu_" + role + "_pct", $"CPU {role}", pct, text, "0");
        }
        var other = Machine - Roles.Values.Sum();
        section.Figure("cpu_other_pct", "CPU everything else", Math.Max(0, other), "% of a core", "0");
        section.Figure("cpu_machine_pct", "CPU whole machine", Machine, $"% of a core (of {Environment.ProcessorCount * 100} %)", "0");
        if (perSecond <= 0) return;
        var system = Roles.Where(r => r.Key != "bench").Sum(r => r.Value) / 100 / perSecond * 1e6;
        section.Figure("system_cpu_us_per_op", $"system CPU per {unit} (all but the benchmark)", system, "µs", "N0");
        section.Figure("ceiling_per_s", $"ceiling if the system had all {Environment.ProcessorCount} cores to itself", Environment.ProcessorCount * 1e6 / system, $"{unit}s/s", "N0");
    }
}
