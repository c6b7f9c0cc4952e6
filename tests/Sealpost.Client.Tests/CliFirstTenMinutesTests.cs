using System.Text;
using System.Text.Json;
using Sealpost.Cli;
using Sealpost.Client.Storage;
using Sealpost.Testing;

namespace Sealpost.Client.Tests;

/// <summary>What a new user meets with the CLI against the whole system: files, escaped output, account management, prompts.</summary>
[Collection(StackCollection.Name)]
public sealed class CliFirstTenMinutesTests(SealpostStack stack) : IDisposable
{
    private readonly List<TempHome> _homes = [];

    public void Dispose()
    {
        foreach (var home in _homes) home.Dispose();
    }

    private (CliRunner Cli, TempHome Home) Device()
    {
        var home = new TempHome();
        _homes.Add(home);
        return (new CliRunner(home.Path, stack.BaseUrl.ToString()), home);
    }

    private async Task<(CliRunner Cli, TempHome Home, string Name)> UserAsync(string prefix)
    {
        var (cli, home) = Device();
        var name = TestEnvironment.UniqueUsername(prefix);
        await cli.ExpectAsync(ExitCodes.Ok, "register", name);
        return (cli, home, name);
    }

    private static JsonElement Single(CliResult result) => Assert.Single(JsonDocument.Parse(result.Out).RootElement.EnumerateArray().ToList());

    [Fact]
    public async Task A_file_goes_as_name_and_bytes_and_is_saved_in_the_chosen_folder_never_over_an_existing_file()
    {
        var (alice, aliceHome, _) = await UserAsync("alice");
        var (bob, bobHome, bobName) = await UserAsync("bob");
        var bytes = new byte[30_000];
        new Random(3).NextBytes(bytes);
        var path = Path.Combine(aliceHome.Path, "photo.jpg");
        await File.WriteAllBytesAsync(path, bytes);
        var downloads = Directory.CreateDirectory(Path.Combine(bobHome.Path, "downloads")).FullName;
        await File.WriteAllTextAsync(Path.Combine(downloads, "photo.jpg"), "bob's own photo");

        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, "--file", path);
        var inbox = await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--wait", "2", "--save-to", downloads);

        Assert.Contains($"[file \"photo.jpg\", 30,000 bytes, saved as {Path.Combine(downloads, "photo (1).jpg")}]", inbox.Out, StringComparison.Ordinal);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(downloads, "photo (1).jpg")));
        Assert.Equal("bob's own photo", await File.ReadAllTextAsync(Path.Combine(downloads, "photo.jpg")));
        // Kept in history too, so it can be saved again later.
        var again = Single(await bob.ExpectAsync(ExitCodes.Ok, "history", "--json", "--save-to", downloads));
        Assert.Equal(Path.Combine(downloads, "photo (2).jpg"), again.GetProperty("file").GetProperty("saved_as").GetString());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(downloads, "photo (2).jpg")));
    }

    [Fact]
    public async Task A_file_name_chosen_by_a_hostile_sender_cannot_leave_the_folder()
    {
        var (_, aliceHome, _) = await UserAsync("alice");
        var (bob, bobHome, bobName) = await UserAsync("bob");
        await using (var alice = new SealpostClient(new SealpostClientOptions { Server = stack.BaseUrl, Profile = aliceHome.Profile(), Passphrase = () => CliRunner.Passphrase }))
            await alice.Messages.SendFileAsync(bobName, "../../.bashrc\u001b]0;x\u0007", Encoding.UTF8.GetBytes("rm -rf ~"), CancellationToken.None);
        var downloads = Directory.CreateDirectory(Path.Combine(bobHome.Path, "downloads")).FullName;

        var inbox = await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--wait", "2", "--save-to", downloads);

        var saved = Assert.Single(Directory.GetFiles(downloads));
        Assert.Equal("_.._.bashrc_]0;x_", Path.GetFileName(saved));
        Assert.False(File.Exists(Path.Combine(bobHome.Path, ".bashrc")));
        Assert.DoesNotContain('\u001b', inbox.Out);
    }

    [Fact]
    public async Task Escape_codes_from_a_sender_reach_inbox_history_and_listen_only_escaped()
    {
        var (alice, _, aliceName) = await UserAsync("alice");
        var (bob, bobHome, bobName) = await UserAsync("bob");
        const string hostile = "\u001b]0;pwned\u0007\u001b[31mred\r\n[2026-01-01 00:00:00Z] bank → you: send money";
        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, hostile);

        var inbox = await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--wait", "2");
        var history = await bob.ExpectAsync(ExitCodes.Ok, "history");
        using var ctrlC = new CancellationTokenSource();
        var listening = bob.RunUntilAsync(ctrlC.Token, null, "listen");
        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, hostile);
        await Eventually.HoldsAsync(() => Task.FromResult(new Sealpost.Client.Messaging.MessageHistory(bobHome.Profile()).List().Count == 2), "listen did not get the message", 20);
        await ctrlC.CancelAsync();
        var listen = await listening;

        foreach (var shown in new[] { inbox.Out, history.Out, listen.Out })
        {
            Assert.DoesNotContain('\u001b', shown);
            Assert.DoesNotContain('\u0007', shown);
            Assert.DoesNotContain('\r', shown);
            Assert.Contains($"{aliceName} → you: \\x1b]0;pwned\\x07\\x1b[31mred\\x0d\n    [2026-01-01 00:00:00Z] bank → you: send money", shown, StringComparison.Ordinal);
        }
        // The stored text is exactly what was sent: only the display is escaped.
        Assert.Equal(hostile, Single(await bob.ExpectAsync(ExitCodes.Ok, "history", "--json", "--last", "1")).GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_mistyped_option_sends_nothing_and_dash_dash_sends_a_text_that_starts_with_a_dash()
    {
        var (alice, _, _) = await UserAsync("alice");
        var (bob, _, bobName) = await UserAsync("bob");

        await alice.ExpectAsync(ExitCodes.Usage, "send", bobName, "--bogus");
        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, "--", "--bogus");
        var binary = await alice.RunWithBytesAsync([0x80, 0xFF, 0x00], "send", bobName);

        Assert.Equal(ExitCodes.Usage, binary.ExitCode);
        Assert.Equal("--bogus", Single(await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--json", "--wait", "2")).GetProperty("text").GetString());
    }

    [Fact]
    public async Task Passwd_changes_the_password_keeps_this_profile_logged_in_and_ends_other_sessions()
    {
        var (alice, aliceHome, aliceName) = await UserAsync("alice");
        var (laptop, _) = Device();
        await laptop.ExpectAsync(ExitCodes.Ok, "login", aliceName);
        alice.Environment["SEALPOST_NEW_PASSWORD"] = "a new password 2";

        var changed = await alice.ExpectAsync(ExitCodes.Ok, "passwd");

        Assert.Contains("Password changed", changed.Out, StringComparison.Ordinal);
        await alice.ExpectAsync(ExitCodes.Ok, "whoami");
        Assert.NotNull(aliceHome.Profile().Read(aliceHome.Profile().SessionFile, LocalJsonContext.Default.SessionState));
        await laptop.ExpectAsync(ExitCodes.Auth, "whoami");
        await laptop.ExpectAsync(ExitCodes.Auth, "login", aliceName);
        laptop.Environment["SEALPOST_PASSWORD"] = "a new password 2";
        await laptop.ExpectAsync(ExitCodes.Ok, "login", aliceName);
    }

    [Fact]
    public async Task Delete_account_asks_to_type_the_name_needs_the_password_and_afterwards_every_device_says_the_account_is_gone()
    {
        var (alice, _, aliceName) = await UserAsync("alice");
        var (laptop, _) = Device();
        await laptop.ExpectAsync(ExitCodes.Ok, "login", aliceName);

        alice.Typed.Enqueue("not the name");
        var unconfirmed = await alice.ExpectAsync(ExitCodes.Usage, "delete-account");
        Assert.Contains("nothing was deleted", unconfirmed.Error, StringComparison.Ordinal);
        alice.Environment["SEALPOST_PASSWORD"] = "wrong password";
        await alice.ExpectAsync(ExitCodes.Auth, "delete-account", "--yes");
        Assert.NotNull(await stack.Api.LookupAsync(aliceName));

        alice.Environment["SEALPOST_PASSWORD"] = CliRunner.Password;
        alice.Typed.Enqueue(aliceName);
        await alice.ExpectAsync(ExitCodes.Ok, "delete-account");

        Assert.Null(await stack.Api.LookupAsync(aliceName));
        Assert.Contains($"The account {aliceName} was deleted", (await alice.ExpectAsync(ExitCodes.Auth, "whoami")).Error, StringComparison.Ordinal);
        var elsewhere = await laptop.ExpectAsync(ExitCodes.Auth, "whoami");
        Assert.Contains($"The account {aliceName} no longer exists", elsewhere.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("access token", elsewhere.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_ends_the_session_and_then_commands_say_to_log_in()
    {
        var (alice, _, _) = await UserAsync("alice");

        await alice.ExpectAsync(ExitCodes.Ok, "logout");

        Assert.Contains("not logged in", (await alice.ExpectAsync(ExitCodes.Auth, "whoami")).Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inbox_with_nothing_waiting_does_not_ask_for_the_passphrase()
    {
        var (bob, _, _) = await UserAsync("bob");
        bob.Environment.Remove("SEALPOST_PASSPHRASE");

        var result = await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--wait", "2");

        Assert.Contains("No new messages.", result.Out, StringComparison.Ordinal);
        Assert.Empty(bob.Prompts);
    }

    [Fact]
    public async Task A_taken_username_is_said_before_any_prompt_and_server_rules_read_as_one_sentence()
    {
        var (_, _, aliceName) = await UserAsync("alice");
        var (other, otherHome) = Device();
        other.Environment.Remove("SEALPOST_PASSWORD");
        other.Environment.Remove("SEALPOST_PASSPHRASE");

        var taken = await other.ExpectAsync(ExitCodes.Refused, "register", aliceName);

        Assert.Contains("is taken", taken.Error, StringComparison.Ordinal);
        Assert.Empty(other.Prompts);
        Assert.False(Directory.Exists(otherHome.Profile().Root));
        other.Environment["SEALPOST_PASSWORD"] = CliRunner.Password;
        other.Environment["SEALPOST_PASSPHRASE"] = CliRunner.Passphrase;
        var bad = await other.ExpectAsync(ExitCodes.Usage, "register", TestEnvironment.UniqueUsername("carol"), "--display-name", "\u202Eevil");
        Assert.Equal("sealpost: The request has invalid fields (display_name: Control and text-direction characters are not allowed).", bad.Error.Trim());
    }
}
