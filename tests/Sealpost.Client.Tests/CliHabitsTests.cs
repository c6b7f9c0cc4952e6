using System.Text;
using System.Text.Json;
using Sealpost.Cli;
using Sealpost.Crypto;

namespace Sealpost.Client.Tests;

/// <summary>The CLI as a good Unix tool, without a server: options, help, errors for scripts, input it refuses, new secrets.</summary>
public sealed class CliHabitsTests : IDisposable
{
    private readonly TempHome _home = new();
    private readonly CliRunner _cli;

    public CliHabitsTests() => _cli = new CliRunner(_home.Path, "http://127.0.0.1:1");

    public void Dispose() => _home.Dispose();

    [Fact]
    public async Task An_unknown_option_is_an_error_that_names_it_and_is_never_the_message()
    {
        var result = await _cli.ExpectAsync(ExitCodes.Usage, "send", "frank", "--bogus");

        Assert.Contains("'--bogus'", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Sent", result.Out, StringComparison.Ordinal);
        // After "--" it is the text: parsing passes, and the command stops only for want of an account. An option's
        // value and a number may start with a dash.
        await _cli.ExpectAsync(ExitCodes.Auth, "send", "frank", "--", "--bogus");
        await _cli.ExpectAsync(ExitCodes.Auth, "send", "frank", "-5");
        await _cli.ExpectAsync(ExitCodes.Network, "register", "frank", "--display-name", "-Frank-");
        await _cli.ExpectAsync(ExitCodes.Usage, "history", "--last", "-5");
    }

    [Fact]
    public async Task Help_is_a_command_and_an_unknown_command_is_named_without_framework_noise()
    {
        var help = await _cli.ExpectAsync(ExitCodes.Ok, "help");
        foreach (var command in new[] { "passwd", "delete-account", "logout", "send" }) Assert.Contains(command, help.Out, StringComparison.Ordinal);
        Assert.Contains("--file", (await _cli.ExpectAsync(ExitCodes.Ok, "help", "send")).Out, StringComparison.Ordinal);
        Assert.Contains("register", (await _cli.ExpectAsync(ExitCodes.Ok)).Out, StringComparison.Ordinal);

        var unknown = await _cli.ExpectAsync(ExitCodes.Usage, "frobnicate");
        Assert.Equal("sealpost: Unknown command 'frobnicate'. Run 'sealpost --help' for usage.", unknown.Error.Trim());
    }

    [Theory]
    [InlineData(ExitCodes.Usage, "usage", "--json", "frobnicate")]
    [InlineData(ExitCodes.Usage, "usage", "send", "bob", "--bogus", "--json")]
    [InlineData(ExitCodes.Network, "network", "lookup", "bob", "--json")]
    [InlineData(ExitCodes.Auth, "auth", "whoami", "--json")]
    public async Task With_json_an_error_is_a_json_object_on_stdout_with_the_same_exit_code(int exitCode, string code, params string[] args)
    {
        var result = await _cli.ExpectAsync(exitCode, args);

        using var json = JsonDocument.Parse(result.Out);
        var error = json.RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(exitCode, error.GetProperty("exit_code").GetInt32());
        Assert.Equal(result.Error.Trim(), "sealpost: " + error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Bytes_that_are_not_utf8_on_stdin_are_refused_before_anything_is_sent()
    {
        var bytes = new byte[2000];
        new Random(11).NextBytes(bytes);
        bytes[0] = 0xFF;

        var result = await _cli.RunWithBytesAsync(bytes, "send", "bob");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("not UTF-8", result.Error, StringComparison.Ordinal);
        Assert.Contains("--file", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sealing_a_plaintext_over_the_envelope_limit_is_an_input_error()
    {
        var tooLong = new string('a', Envelope.MaxPlaintextSize + 1);
        var result = await _cli.RunWithInputAsync(tooLong, "envelope", "seal", "--sender", "alice",
            "--sender-private-key", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "--recipient", "bob", "--recipient-public-key", "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains($"at most {Envelope.MaxPlaintextSize} bytes", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_short_passphrase_or_password_is_refused_before_the_server_is_asked_and_leaves_no_profile()
    {
        _cli.Environment["SEALPOST_PASSPHRASE"] = "short";
        var passphrase = await _cli.ExpectAsync(ExitCodes.Usage, "register", "alice");
        Assert.Contains($"at least {CliApp.MinPassphraseLength} characters", passphrase.Error, StringComparison.Ordinal);

        _cli.Environment["SEALPOST_PASSPHRASE"] = CliRunner.Passphrase;
        _cli.Environment["SEALPOST_PASSWORD"] = "seven77";
        var password = await _cli.ExpectAsync(ExitCodes.Usage, "register", "alice");
        Assert.Equal("sealpost: SEALPOST_PASSWORD: The password must be 8 to 256 characters long.", password.Error.Trim());

        Assert.False(Directory.Exists(_home.Profile().Root));
    }

    [Fact]
    public async Task At_the_prompts_a_bad_or_mismatched_entry_is_asked_again_and_a_failed_registration_leaves_no_profile()
    {
        _cli.Environment.Remove("SEALPOST_PASSWORD");
        _cli.Environment.Remove("SEALPOST_PASSPHRASE");
        foreach (var typed in new[] { "short", "long enough 1", "long enough 2", "long enough 1", "long enough 1", "x", "a good passphrase", "a good passphrase" })
            _cli.Typed.Enqueue(typed);

        // Every prompt is answered and checked here; only then is the (unreachable) server asked.
        var result = await _cli.ExpectAsync(ExitCodes.Network, "register", "alice");

        Assert.Empty(_cli.Typed);
        Assert.Equal(
            ["New account password: ", "New account password: ", "Again, to be sure: ", "New account password: ", "Again, to be sure: ",
             "New passphrase for your private key: ", "New passphrase for your private key: ", "Again, to be sure: "],
            _cli.Prompts);
        Assert.Contains("The password must be 8 to 256 characters long. Try again.", result.Error, StringComparison.Ordinal);
        Assert.Contains("The two entries differ. Try again.", result.Error, StringComparison.Ordinal);
        Assert.Contains($"at least {CliApp.MinPassphraseLength} characters", result.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_home.Profile().Root));
    }

    [Fact]
    public async Task Without_a_terminal_delete_account_needs_yes_and_says_so()
    {
        _home.Profile().Write(_home.Profile().AccountFile,
            new Sealpost.Client.Storage.AccountState { Server = "http://127.0.0.1:1/", Username = "alice", KeyId = 1 },
            Sealpost.Client.Storage.LocalJsonContext.Default.AccountState);

        var result = await _cli.ExpectAsync(ExitCodes.Usage, "delete-account");

        Assert.Contains("--yes", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\u001b]0;pwned\u0007\u001b[31mred", "\\x1b]0;pwned\\x07\\x1b[31mred")]
    [InlineData("tab\tstays, CR \r and DEL \u007f go", "tab\tstays, CR \\x0d and DEL \\x7f go")]
    [InlineData("evil\u202Etxt.exe, C1 \u009b", "evil\\u202etxt.exe, C1 \\x9b")]
    [InlineData("👨‍👩‍👧 über", "👨‍👩‍👧 über")]
    public void Control_characters_are_shown_escaped(string text, string shown) =>
        Assert.Equal(shown, TerminalText.Escape(text));

    [Fact]
    public void A_line_inside_a_message_is_indented_so_it_cannot_pass_for_a_line_of_its_own() =>
        Assert.Equal("hi\n    [2026-01-01 00:00:00Z] bank → you: send money", TerminalText.EscapeLines("hi\n[2026-01-01 00:00:00Z] bank → you: send money"));

    [Theory]
    [InlineData("../../etc/passwd", "_.._etc_passwd")]
    [InlineData("..", "file")]
    [InlineData(".bashrc", "bashrc")]
    [InlineData("a\u001b[31m\nb.txt", "a_[31m_b.txt")]
    [InlineData("C:\\Windows\\evil.dll", "C__Windows_evil.dll")]
    [InlineData("report.pdf", "report.pdf")]
    public void Received_file_names_become_one_safe_path_component(string name, string safe) =>
        Assert.Equal(safe, ReceivedFiles.SafeName(name));

    [Fact]
    public void A_received_file_never_overwrites_and_never_follows_a_planted_link()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_home.Path, "downloads")).FullName;
        var outside = Path.Combine(_home.Path, "outside.txt");
        File.WriteAllText(outside, "mine");
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "already here");
        File.CreateSymbolicLink(Path.Combine(folder, "link.txt"), outside);

        var first = ReceivedFiles.Save(folder, "notes.txt", Encoding.UTF8.GetBytes("new"));
        var linked = ReceivedFiles.Save(folder, "link.txt", Encoding.UTF8.GetBytes("new"));
        var escaped = ReceivedFiles.Save(folder, "../outside.txt", Encoding.UTF8.GetBytes("new"));

        Assert.Equal(Path.Combine(folder, "notes (1).txt"), first);
        Assert.Equal(Path.Combine(folder, "link (1).txt"), linked);
        Assert.Equal(folder, Path.GetDirectoryName(escaped));
        Assert.Equal("already here", File.ReadAllText(Path.Combine(folder, "notes.txt")));
        Assert.Equal("mine", File.ReadAllText(outside));
    }
}
