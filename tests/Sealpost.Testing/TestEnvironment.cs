using Npgsql;

namespace Sealpost.Testing;

/// <summary>
/// Addresses of the real PostgreSQL and Redis that <c>scripts/test</c> starts. A missing variable fails the test
/// loudly: these tests never fall back to fakes.
/// </summary>
public static class TestEnvironment
{
    public static string PostgresConnectionString => Require("SEALPOST_TEST_PG");

    public static string RedisConfiguration => Require("SEALPOST_TEST_REDIS");

    /// <summary>Scratch folder of this test run; scripts/test stops whatever left a pid file below it and removes it.</summary>
    public static string WorkDir { get; } = CreateWorkDir();

    /// <summary>Where a process started by a test records its pid, so a killed run's leftovers can be stopped by it.</summary>
    public static string PidFile(string name)
    {
        var dir = Path.Combine(WorkDir, "pids");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name + ".pid");
    }

    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Debug or Release, as this test assembly was built.</summary>
    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    /// <summary>A connection string for a database of its own, created on first use by the service that gets it.</summary>
    public static string NewDatabase(string prefix, string? server = null) =>
        new NpgsqlConnectionStringBuilder(server ?? PostgresConnectionString) { Database = $"{prefix}_{Guid.NewGuid():N}" }.ConnectionString;

    public static string UniqueUsername(string prefix = "u") => $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(32, prefix.Length + 17)];

    private static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run the tests through scripts/test, which starts PostgreSQL and Redis.");

    private static string CreateWorkDir()
    {
        var root = Environment.GetEnvironmentVariable("SEALPOST_TEST_WORKDIR") is { Length: > 0 } dir ? dir : Path.GetTempPath();
        var path = Path.Combine(root, "t" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sealpost.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException("Sealpost.slnx not found above " + AppContext.BaseDirectory);
    }
}
