using System.Text;
using Sealpost.Cli;
using Sealpost.Client.Messaging;
using Sealpost.Client.Storage;

namespace Sealpost.Client.Tests;

/// <summary>A scratch SEALPOST_HOME, deleted afterwards.</summary>
public sealed class TempHome : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sealpost-client-tests", Guid.NewGuid().ToString("N"));

    public ProfileFolder Profile(string name = ProfileFolder.DefaultProfile) => new(Path, name);

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}

/// <summary>The result of one in-process CLI run.</summary>
public sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>Runs <c>sealpost</c> commands in-process against one home folder, with secrets from its environment.</summary>
/// <summary>CLI runners, each in a temporary home of its own, removed with the test.</summary>
public sealed class TempHomes : IDisposable
{
    private readonly List<TempHome> _homes = [];

    public CliRunner Runner(string server)
    {
        var home = new TempHome();
        _homes.Add(home);
        return new CliRunner(home.Path, server);
    }

    public void Dispose()
    {
        foreach (var home in _homes) home.Dispose();
    }
}

public sealed class CliRunner(string home, string? server = null)
{
    public const string Passphrase = "a passphrase for tests";
    public const string Password = "correct horse battery";

    public Dictionary<string, string> Environment { get; } = new()
    {
        ["SEALPOST_HOME"] = home,
        ["SEALPOST_PASSPHRASE"] = Passphrase,
        ["SEALPOST_PASSWORD"] = Password,
    };

    /// <summary>
    /// What a person types at the terminal prompts, in order (secrets and confirmations alike); when empty, there is
    /// no terminal. <see cref="Prompts"/> records each prompt shown.
    /// </summary>
    public Queue<string> Typed { get; } = new();

    public List<string> Prompts { get; } = [];

    /// <summary>HTTP through this handler (a tampering server), when set.</summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    public Task<CliResult> RunWithInputAsync(string? stdin, params string[] args) => RunUntilAsync(CancellationToken.None, stdin, args);

    public Task<CliResult> RunWithBytesAsync(byte[] stdin, params string[] args) => RunUntilAsync(CancellationToken.None, stdin, args);

    /// <summary>Runs until done or until <paramref name="stop"/> fires, which stands for Ctrl-C.</summary>
    public Task<CliResult> RunUntilAsync(CancellationToken stop, string? stdin, params string[] args) =>
        RunUntilAsync(stop, Encoding.UTF8.GetBytes(stdin ?? ""), args);

    /// <summary>
    /// Starts a command that runs until done or until <paramref name="stop"/> fires (Ctrl-C), with its standard output
    /// readable while it runs (a code `sealpost link` prints, then waits).
    /// </summary>
    public (Task<CliResult> Done, LiveText Out) Start(CancellationToken stop, params string[] args)
    {
        var output = new LiveText();
        return (RunUntilAsync(stop, [], args, output), output);
    }

    private async Task<CliResult> RunUntilAsync(CancellationToken stop, byte[] stdin, string[] args, TextWriter? liveOutput = null)
    {
        var output = liveOutput ?? new StringWriter();
        var error = new StringWriter();
        string? Ask(string prompt)
        {
            Prompts.Add(prompt);
            return Typed.TryDequeue(out var answer) ? answer : null;
        }
        var console = new CliConsole
        {
            Out = output,
            Error = error,
            In = new MemoryStream(stdin),
            Environment = name => Environment.GetValueOrDefault(name),
            ReadSecret = Ask,
            ReadLine = Ask,
        };
        var app = new CliApp(console)
        {
            ConnectionOptions = new ConnectionOptions { BackoffBase = TimeSpan.FromMilliseconds(50), BackoffCap = TimeSpan.FromSeconds(1) },
            HttpHandler = HttpHandler,
        };
        if (server is not null && !Environment.ContainsKey("SEALPOST_SERVER")) Environment["SEALPOST_SERVER"] = server;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        var code = await app.RunAsync(args, timeout.Token);
        return new CliResult(code, output.ToString() ?? "", error.ToString());
    }

    public Task<CliResult> RunAsync(params string[] args) => RunWithInputAsync(null, args);

    /// <summary>Runs and fails the test, showing the output, unless the exit code is the expected one.</summary>
    public async Task<CliResult> ExpectAsync(int exitCode, params string[] args)
    {
        var result = await RunAsync(args);
        Assert.True(result.ExitCode == exitCode, $"sealpost {string.Join(' ', args)}: expected exit {exitCode}, got {result}");
        return result;
    }
}

/// <summary>Standard output that another thread may read while the command writes it.</summary>
public sealed class LiveText : TextWriter
{
    private readonly StringBuilder _text = new();
    private readonly Lock _lock = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_lock) _text.Append(value);
    }

    public override void Write(string? value)
    {
        lock (_lock) _text.Append(value);
    }

    public override string ToString()
    {
        lock (_lock) return _text.ToString();
    }
}

internal static class Text
{
    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
