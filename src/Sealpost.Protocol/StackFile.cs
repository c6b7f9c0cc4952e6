namespace Sealpost.Protocol;

/// <summary>
/// <c>.run/stack.env</c>, which <c>scripts/up</c> writes once everything it started answers: addresses, ports and pid
/// files, as <c>key=value</c> lines. sealpost-bench and the tests read it instead of knowing ports and paths themselves.
/// </summary>
public sealed class StackFile
{
    public const string FileName = "stack.env";
    private readonly Dictionary<string, string> _values;

    private StackFile(string path, Dictionary<string, string> values)
    {
        Path = path;
        _values = values;
    }

    public string Path { get; }

    /// <summary>A value, or null when the file does not have it (<c>prometheus</c> under <c>--no-monitoring</c>).</summary>
    public string? this[string key] => _values.GetValueOrDefault(key);

    /// <summary>A space-separated list (<c>users</c>, <c>pids_messages</c>); empty when missing.</summary>
    public IReadOnlyList<string> List(string key) => this[key]?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>Instances as name and address (<c>users1@127.0.0.1:5101</c>).</summary>
    public IReadOnlyList<(string Name, string Address)> Instances(string key) =>
        [.. List(key).Select(i => i.Split('@', 2)).Select(p => (p[0], p[^1]))];

    public static StackFile Read(string path)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines(path))
        {
            if (line.StartsWith('#') || line.IndexOf('=', StringComparison.Ordinal) is not (> 0 and var at)) continue;
            values[line[..at]] = line[(at + 1)..];
        }
        return new StackFile(path, values);
    }

    /// <summary>The file in <paramref name="runDirectory"/>, else in the nearest <c>.run/</c> above the working directory or this program.</summary>
    public static StackFile? Find(string? runDirectory = null)
    {
        if (runDirectory is not null)
            return File.Exists(System.IO.Path.Combine(runDirectory, FileName)) ? Read(System.IO.Path.Combine(runDirectory, FileName)) : null;
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var path = System.IO.Path.Combine(dir.FullName, ".run", FileName);
                if (File.Exists(path)) return Read(path);
            }
        }
        return null;
    }
}
