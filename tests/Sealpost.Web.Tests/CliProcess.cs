using System.Diagnostics;
using Sealpost.Testing;

namespace Sealpost.Web.Tests;

/// <summary>The <c>sealpost</c> command as a process, with a home folder of its own and secrets from the environment.</summary>
public sealed class CliProcess(Uri server) : IDisposable
{
    /// <summary>A page account (alice, registered) and a CLI account (carol, registered) on <paramref name="stack"/>: the start of every page-and-CLI test.</summary>
    public static async Task<(Person Page, CliProcess Cli, string CliUser)> WithPageAsync(WebStack stack)
    {
        var alice = await Person.OpenAsync(stack, "alice");
        var cli = new CliProcess(stack.BaseUrl);
        var carol = TestEnvironment.UniqueUsername("carol");
        await cli.RunAsync("register", carol);
        await alice.RegisterAsync();
        return (alice, cli, carol);
    }

    public const string Password = "correct horse battery";

    private readonly string _home = Path.Combine(TestEnvironment.WorkDir, "cli-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task<string> RunAsync(params string[] args)
    {
        var dll = Path.Combine(TestEnvironment.RepoRoot, "src", "Sealpost.Cli", "bin", TestEnvironment.Configuration, "net10.0", "sealpost.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["SEALPOST_HOME"] = _home;
        info.Environment["SEALPOST_SERVER"] = server.ToString();
        info.Environment["SEALPOST_PASSWORD"] = Password;
        info.Environment["SEALPOST_PASSPHRASE"] = "a passphrase for tests";
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"sealpost {string.Join(' ', args)} exited {process.ExitCode}:\n{await output}\n{await error}");
        return await output;
    }

    public void Dispose()
    {
        if (Directory.Exists(_home)) Directory.Delete(_home, recursive: true);
    }
}
