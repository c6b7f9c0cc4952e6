using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sealpost.Cli;
using Sealpost.Client.Messaging;
using Sealpost.Testing;

namespace Sealpost.Client.Tests.Terminal;

/// <summary>
/// The real <c>sealpost</c> process at a real (pseudo-)terminal, driven by <c>pty_driver.py</c> as a person would type:
/// the README's own commands, and Ctrl-C at a prompt.
/// </summary>
[Collection(StackCollection.Name)]
public sealed partial class TerminalTests(SealpostStack stack) : IDisposable
{
    private const string Password = "a password for the readme";
    private const string Passphrase = "a passphrase for the readme";

    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private static string SealpostDll => Path.Combine(TestEnvironment.RepoRoot, "src", "Sealpost.Cli", "bin", TestEnvironment.Configuration, "net10.0", "sealpost.dll");

    /// <summary>The first ```sh block under "## Using it" in README.md, exactly as written there.</summary>
    private static string ReadmeUsingIt()
    {
        var readme = File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "README.md"));
        var section = readme[readme.IndexOf("\n## Using it", StringComparison.Ordinal)..];
        var start = section.IndexOf("```sh\n", StringComparison.Ordinal) + "```sh\n".Length;
        return section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
    }

    /// <summary>Runs a bash script on a pseudo-terminal, typing each answer when its prompt shows; the exit code and all the terminal showed.</summary>
    private async Task<(int ExitCode, string Screen)> AtTerminalAsync(string script, object[][] answers, int seconds = 240)
    {
        var file = Path.Combine(_home.Path, "script.sh");
        Directory.CreateDirectory(_home.Path);
        // Aliases (the README defines one) are expanded in a script only when asked to.
        await File.WriteAllTextAsync(file, "shopt -s expand_aliases\n" + script);
        var info = new ProcessStartInfo("python3") { WorkingDirectory = TestEnvironment.RepoRoot, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "Terminal", "pty_driver.py"), file, JsonSerializer.Serialize(answers), seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(arg);
        info.Environment["SEALPOST_HOME"] = _home.Path;
        info.Environment["SEALPOST_SERVER"] = stack.BaseUrl.ToString();
        info.Environment.Remove("SEALPOST_PASSPHRASE");
        info.Environment.Remove("SEALPOST_PASSWORD");
        info.Environment.Remove("SEALPOST_PROFILE");
        using var process = Process.Start(info)!;
        var screen = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, screen);
    }

    /// <summary>Alice in the default profile of this home, Bob in profile "bob"; both registered with the variables' secrets.</summary>
    private async Task<(CliRunner Bob, string BobName)> AliceAndBobAsync()
    {
        var alice = new CliRunner(_home.Path, stack.BaseUrl.ToString());
        await alice.ExpectAsync(ExitCodes.Ok, "register", TestEnvironment.UniqueUsername("alice"));
        var bob = new CliRunner(_home.Path, stack.BaseUrl.ToString());
        bob.Environment["SEALPOST_PROFILE"] = "bob";
        var bobName = TestEnvironment.UniqueUsername("bob");
        await bob.ExpectAsync(ExitCodes.Ok, "register", bobName);
        return (bob, bobName);
    }

    [Fact]
    public async Task The_readme_commands_as_written_deliver_the_message_with_secrets_typed_at_the_terminal()
    {
        var (exitCode, screen) = await AtTerminalAsync(ReadmeUsingIt(),
            [["password: ", Password], ["private key: ", Passphrase], ["Again, to be sure: ", "<again>"]]);

        Assert.True(exitCode == 0, $"exit {exitCode}\n{screen}");
        Assert.Contains("alice → you: lunch at noon?", screen, StringComparison.Ordinal);
        Assert.DoesNotContain(Passphrase, screen, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, screen, StringComparison.Ordinal);
        var received = Assert.Single(new MessageHistory(_home.Profile("bob")).List("alice"));
        Assert.Equal("lunch at noon?", received.Text);
        Assert.Equal(0, await stack.MailboxCountAsync("bob"));
    }

    [Fact]
    public async Task Ctrl_c_at_the_passphrase_prompt_ends_the_command_at_once_and_gives_the_terminal_its_echo_back()
    {
        var (_, bobName) = await AliceAndBobAsync();

        var (exitCode, screen) = await AtTerminalAsync(
            $"echo 'not to be sent' | dotnet {SealpostDll} send {bobName}\necho \"exit=$?\"\nstty -a\n",
            [["private key: ", "\u0003"]], seconds: 60);

        Assert.True(exitCode == 0, $"exit {exitCode}\n{screen}");
        Assert.Contains("exit=130", screen, StringComparison.Ordinal);
        Assert.Contains("sealpost: Interrupted.", screen, StringComparison.Ordinal);
        Assert.Matches(EchoOn(), screen);
        Assert.Equal(0, await stack.MailboxCountAsync(bobName));
    }

    [Fact]
    public async Task A_message_typed_at_the_terminal_is_followed_by_a_passphrase_prompt_with_working_backspace()
    {
        var (bob, bobName) = await AliceAndBobAsync();

        // Reading a terminal on stdin, .NET switches it out of canonical mode; the prompt must bring the line editing back.
        var (exitCode, screen) = await AtTerminalAsync(
            $"dotnet {SealpostDll} send {bobName}\necho \"exit=$?\"\n",
            [["Ctrl-D on a line of its own.", "typed, not piped"], ["typed, not piped\r\n", "\u0004"], ["private key: ", CliRunner.Passphrase[..^1] + "X\u007f" + CliRunner.Passphrase[^1..]]],
            seconds: 60);

        Assert.True(exitCode == 0 && screen.Contains("exit=0", StringComparison.Ordinal), $"exit {exitCode}\n{screen}");
        var inbox = await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--json", "--wait", "2");
        Assert.Equal("typed, not piped", JsonDocument.Parse(inbox.Out).RootElement[0].GetProperty("text").GetString());
    }

    /// <summary>`stty -a` lists "echo" when echo is on and "-echo" when it is off.</summary>
    [GeneratedRegex(@"(^|\s)echo(\s|$)", RegexOptions.Multiline)]
    private static partial Regex EchoOn();
}
