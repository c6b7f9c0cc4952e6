using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sealpost.Bench.Infrastructure;

/// <summary>
/// What one scenario measured: sections of named figures, printed as a table for people or as JSON for machines,
/// plus the checks that failed (the run then exits non-zero) and warnings about how far to trust the figures.
/// </summary>
public sealed class Report
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly List<(string Title, List<(string Label, string Text)> Rows, JsonObject Json)> _sections = [];
    private readonly JsonObject _root = [];

    public Report(string scenario, string commandLine)
    {
        Scenario = scenario;
        _root["scenario"] = scenario;
        _root["command"] = commandLine;
        _root["started_at"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        _root["machine"] = Machine.Describe();
        _root["load_average_before"] = Machine.LoadAverage();
    }

    public string Scenario { get; }

    public List<string> Failures { get; } = [];

    public List<string> Warnings { get; } = [];

    public int ExitCode => Failures.Count > 0 ? ExitCodes.CheckFailed : ExitCodes.Ok;

    public Section Add(string title)
    {
        var rows = new List<(string, string)>();
        var json = new JsonObject();
        _sections.Add((title, rows, json));
        return new Section(rows, json);
    }

    public void Fail(string message) => Failures.Add(message);

    public void Warn(string message) => Warnings.Add(message);

    public void Write(TextWriter output, bool asJson)
    {
        _root["load_average_after"] = Machine.LoadAverage();
        if (asJson)
        {
            foreach (var (title, _, json) in _sections) _root[Key(title)] = json.DeepClone();
            _root["warnings"] = new JsonArray([.. Warnings.Select(w => (JsonNode)w)]);
            _root["failures"] = new JsonArray([.. Failures.Select(f => (JsonNode)f)]);
            _root["passed"] = Failures.Count == 0;
            output.WriteLine(_root.ToJsonString(Indented));
            return;
        }
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"sealpost-bench {Scenario}: {_root["command"]}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  machine: {Machine.OneLine()}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  load average before: {_root["load_average_before"]}, after: {_root["load_average_after"]}");
        var width = _sections.SelectMany(s => s.Rows).Select(r => r.Label.Length).DefaultIfEmpty(10).Max() + 2;
        foreach (var (title, rows, _) in _sections)
        {
            text.AppendLine();
            text.AppendLine(title);
            foreach (var (label, value) in rows) text.AppendLine(CultureInfo.InvariantCulture, $"  {label.PadRight(width)}{value}");
        }
        text.AppendLine();
        foreach (var w in Warnings) text.AppendLine("warning: " + w);
        if (Failures.Count == 0) text.AppendLine("PASSED: every check held.");
        else foreach (var f in Failures) text.AppendLine("FAILED: " + f);
        output.Write(text.ToString());
    }

    private static string Key(string title) => title.ToLowerInvariant().Replace(' ', '_').Replace("-", "_", StringComparison.Ordinal);

    /// <summary>One titled block of the report; each figure goes to the table and, under its key, to the JSON.</summary>
    public sealed class Section(List<(string Label, string Text)> rows, JsonObject json)
    {
        public Section Figure(string key, string label, double value, string unit, string format = "N0")
        {
            rows.Add((label, value.ToString(format, CultureInfo.InvariantCulture) + (unit.Length > 0 ? " " + unit : "")));
            json[key] = double.IsFinite(value) ? Math.Round(value, 3) : null;
            return this;
        }

        public Section Text(string key, string label, string value)
        {
            rows.Add((label, value));
            json[key] = value;
            return this;
        }

        public Section Latency(string key, string label, Latencies.Summary s)
        {
            rows.Add((label, s.Count == 0 ? "no samples" : string.Create(CultureInfo.InvariantCulture,
                $"p50 {s.P50:0.00}  p95 {s.P95:0.00}  p99 {s.P99:0.00}  p99.9 {s.P999:0.00}  max {s.Max:0.00} ms  (mean {s.Mean:0.00}, n={s.Count:N0})")));
            json[key] = new JsonObject
            {
                ["count"] = s.Count, ["mean_ms"] = Math.Round(s.Mean, 3), ["p50_ms"] = Math.Round(s.P50, 3), ["p95_ms"] = Math.Round(s.P95, 3),
                ["p99_ms"] = Math.Round(s.P99, 3), ["p999_ms"] = Math.Round(s.P999, 3), ["max_ms"] = Math.Round(s.Max, 3),
            };
            return this;
        }

        public Section Counts(string key, string label, IReadOnlyDictionary<string, long> counts)
        {
            rows.Add((label, counts.Count == 0 ? "none" : string.Join(", ", counts.OrderByDescending(c => c.Value).Select(c => $"{c.Key} {c.Value:N0}"))));
            var obj = new JsonObject();
            foreach (var (k, v) in counts) obj[k] = v;
            json[key] = obj;
            return this;
        }
    }
}

/// <summary>Process exit codes.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The run finished but a check failed: a message lost, a body changed, a socket dropped.</summary>
    public const int CheckFailed = 1;

    /// <summary>The run could not be set up: the system does not answer, accounts could not be made.</summary>
    public const int SetupFailed = 2;

    public const int Interrupted = 130;
}

/// <summary>The machine the figures come from.</summary>
public static class Machine
{
    public static JsonObject Describe() => new()
    {
        ["cores"] = Environment.ProcessorCount,
        ["memory_mib"] = MemoryMiB(),
        ["kernel"] = ReadOr("/proc/sys/kernel/osrelease", "?").Trim(),
        ["runtime"] = RuntimeInformation.FrameworkDescription,
        ["cpu"] = CpuModel(),
    };

    public static string OneLine() =>
        $"{Environment.ProcessorCount} cores ({CpuModel()}), {MemoryMiB():N0} MiB, Linux {ReadOr("/proc/sys/kernel/osrelease", "?").Trim()}, {RuntimeInformation.FrameworkDescription}";

    /// <summary>The 1, 5 and 15 minute load averages, as <c>uptime</c> prints them.</summary>
    public static string LoadAverage() => string.Join(' ', ReadOr("/proc/loadavg", "? ? ?").Split(' ').Take(3));

    public static double LoadAverage1() =>
        double.TryParse(ReadOr("/proc/loadavg", "0").Split(' ')[0], CultureInfo.InvariantCulture, out var v) ? v : 0;

    private static long MemoryMiB()
    {
        foreach (var line in ReadOr("/proc/meminfo", "").Split('\n'))
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        return 0;
    }

    private static string CpuModel()
    {
        foreach (var line in ReadOr("/proc/cpuinfo", "").Split('\n'))
            if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        return "unknown CPU";
    }

    internal static string ReadOr(string path, string fallback)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return fallback;
        }
        catch (UnauthorizedAccessException)
        {
            return fallback;
        }
    }
}
