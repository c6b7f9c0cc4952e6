using System.Diagnostics;

namespace Sealpost.Testing;

/// <summary>
/// Runs a function of scripts/lib.sh, so the tests start PostgreSQL, Redis and HAProxy and pick ports exactly as the
/// scripts do: one definition of each, not two that drift apart.
/// </summary>
public static class ScriptLib
{
    public static async Task<string> RunAsync(string function, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var process = Process.Start(StartInfo(function, args, environment))!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{function} failed ({process.ExitCode}): {await stderr}");
        return stdout.Trim();
    }

    /// <summary>The same, waiting in place: for the few callers that cannot await (property initialisers).</summary>
    public static string Run(string function, params string[] args)
    {
        using var process = Process.Start(StartInfo(function, args, null))!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{function} failed ({process.ExitCode}): {stderr.Result}");
        return stdout.Trim();
    }

    private static ProcessStartInfo StartInfo(string function, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"source \"$0/scripts/lib.sh\" && {function} \"$@\"");
        info.ArgumentList.Add(TestEnvironment.RepoRoot);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        return info;
    }
}
