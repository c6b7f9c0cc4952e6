using System.Text.Json;
using System.Text.RegularExpressions;
using Sealpost.Cli;
using Sealpost.Crypto;
using Sealpost.Testing;

namespace Sealpost.Client.Tests;

/// <summary>
/// `sealpost link`, `link accept` and `sealpost devices` against the whole system (docs/cli.md): one account on two
/// profiles, as on two machines, linked with the code one prints and the other accepts.
/// </summary>
[Collection(StackCollection.Name)]
public sealed partial class CliDeviceTests(SealpostStack stack) : IDisposable
{
    private readonly TempHomes _homes = new();

    public void Dispose() => _homes.Dispose();

    private CliRunner Device() => _homes.Runner(stack.BaseUrl.ToString());

    private async Task<(CliRunner Cli, string Name)> UserAsync(string prefix)
    {
        var cli = Device();
        var name = TestEnvironment.UniqueUsername(prefix);
        await cli.ExpectAsync(ExitCodes.Ok, "register", name, "--device-name", "phone");
        return (cli, name);
    }

    [GeneratedRegex(@"sealpost-link:2:\S+")]
    private static partial Regex LinkCodePattern();

    /// <summary>Waits for the code a running `sealpost link` prints.</summary>
    private static async Task<string> CodeFromAsync(LiveText output, Task<CliResult> link)
    {
        string? code = null;
        await Eventually.HoldsAsync(() =>
        {
            if (link.IsCompleted) Assert.Fail($"sealpost link ended before printing a code: {link.Result}");
            code = LinkCodePattern().Match(output.ToString()) is { Success: true } m ? m.Value : null;
            return Task.FromResult(code is not null);
        }, "sealpost link printed no code", 30);
        return code!;
    }

    /// <summary>`sealpost link USERNAME --name NAME` on a new profile, accepted with `link accept CODE --yes` on <paramref name="existing"/>.</summary>
    private async Task<(CliRunner Cli, CliResult Link, CliResult Accept)> LinkAsync(CliRunner existing, string username, string name = "laptop")
    {
        var device = Device();
        using var ctrlC = new CancellationTokenSource();
        var (linking, output) = device.Start(ctrlC.Token, "link", username, "--name", name);
        var code = await CodeFromAsync(output, linking);
        var accept = await existing.ExpectAsync(ExitCodes.Ok, "link", "accept", code, "--yes");
        var link = await linking.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(link.ExitCode == ExitCodes.Ok, link.ToString());
        return (device, link, accept);
    }

    private static List<JsonElement> Entries(CliResult result) =>
        [.. JsonDocument.Parse(result.Out).RootElement.EnumerateArray().Select(e => e.Clone())];

    private static List<JsonElement> Devices(CliResult result) =>
        [.. JsonDocument.Parse(result.Out).RootElement.GetProperty("devices").EnumerateArray().Select(e => e.Clone())];

    [Fact]
    public async Task A_profile_linked_with_the_cli_gets_what_is_sent_afterwards_and_copies_of_what_the_first_device_sends()
    {
        var (alice, aliceName) = await UserAsync("alice");
        var (bob, bobName) = await UserAsync("bob");

        var (laptop, link, accept) = await LinkAsync(alice, aliceName);

        Assert.Contains($"Linked: this is device 2 of {aliceName}.", link.Out, StringComparison.Ordinal);
        Assert.Contains($"sealpost://link?v=2&u={aliceName}&id=", link.Out, StringComparison.Ordinal);
        Assert.Contains($"to join {aliceName}'s account", link.Out, StringComparison.Ordinal);
        Assert.Contains("Approved.", accept.Out, StringComparison.Ordinal);
        // The fingerprint the new device shows is the one the accepting device was shown.
        var fingerprint = Regex.Match(link.Out, "This device's key fingerprint: ([0-9a-f ]+)").Groups[1].Value.Trim();
        Assert.Contains(fingerprint, accept.Out, StringComparison.Ordinal);

        await bob.ExpectAsync(ExitCodes.Ok, "send", aliceName, "to both of your devices");
        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, "sent from the phone");
        var onPhone = Entries(await alice.ExpectAsync(ExitCodes.Ok, "inbox", "--json", "--wait", "1"));
        var onLaptop = Entries(await laptop.ExpectAsync(ExitCodes.Ok, "inbox", "--json", "--wait", "1"));

        Assert.Equal(["to both of your devices"], onPhone.Select(e => e.GetProperty("text").GetString()));
        var received = Assert.Single(onLaptop, e => e.GetProperty("direction").GetString() == "in");
        Assert.Equal(("to both of your devices", bobName), (received.GetProperty("text").GetString(), received.GetProperty("peer").GetString()));
        var copy = Assert.Single(onLaptop, e => e.GetProperty("direction").GetString() == "out");
        Assert.Equal(("sent from the phone", bobName, 1), (copy.GetProperty("text").GetString(), copy.GetProperty("peer").GetString(), copy.GetProperty("from_device").GetInt32()));
        Assert.Contains($"you (device 1) → {bobName}: sent from the phone", (await laptop.ExpectAsync(ExitCodes.Ok, "history")).Out, StringComparison.Ordinal);
        // Device 1 is not named to others: it is what every account had before linked devices.
        Assert.Contains($"] {aliceName} → you: sent from the phone", (await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--wait", "1")).Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_sent_from_the_linked_device_shows_that_device_to_the_recipient_and_as_mine_on_the_first()
    {
        var (alice, aliceName) = await UserAsync("alice");
        var (bob, bobName) = await UserAsync("bob");
        var (laptop, _, _) = await LinkAsync(alice, aliceName);

        await laptop.ExpectAsync(ExitCodes.Ok, "send", bobName, "sent from the laptop");
        var onBob = await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--wait", "1");
        var onPhone = await alice.ExpectAsync(ExitCodes.Ok, "inbox", "--json", "--wait", "1");

        Assert.Contains($"{aliceName} (device 2) → you: sent from the laptop", onBob.Out, StringComparison.Ordinal);
        var copy = Assert.Single(Entries(onPhone));
        Assert.Equal(("out", bobName, 2), (copy.GetProperty("direction").GetString(), copy.GetProperty("peer").GetString(), copy.GetProperty("from_device").GetInt32()));
        Assert.Contains($"you (device 2) → {bobName}: sent from the laptop", (await alice.ExpectAsync(ExitCodes.Ok, "history")).Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Devices_lists_renames_and_removes_and_a_removed_profile_is_logged_out()
    {
        var (alice, aliceName) = await UserAsync("alice");
        var (laptop, _, _) = await LinkAsync(alice, aliceName, "laptop");

        var fromPhone = await alice.ExpectAsync(ExitCodes.Ok, "devices", "--json");
        var fromLaptop = await laptop.ExpectAsync(ExitCodes.Ok, "devices", "--json");

        Assert.Equal([(1, "phone", true, true), (2, "laptop", false, true)],
            Devices(fromPhone).Select(d => (d.GetProperty("device_id").GetInt32(), d.GetProperty("name").GetString(), d.GetProperty("current").GetBoolean(), d.GetProperty("certified").GetBoolean())));
        Assert.Equal(2, JsonDocument.Parse(fromLaptop.Out).RootElement.GetProperty("current_device_id").GetInt32());
        Assert.Equal(aliceName, JsonDocument.Parse(fromLaptop.Out).RootElement.GetProperty("username").GetString());
        Assert.Equal(Devices(fromPhone).Select(d => d.GetProperty("fingerprint").GetString()), Devices(fromLaptop).Select(d => d.GetProperty("fingerprint").GetString()));
        var list = await laptop.ExpectAsync(ExitCodes.Ok, "devices");
        Assert.Contains("*  2  laptop  fingerprint ", list.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("NOT SIGNED", list.Out, StringComparison.Ordinal);

        await laptop.ExpectAsync(ExitCodes.Ok, "devices", "rename", "2", "work laptop");
        Assert.Equal(["phone", "work laptop"], Devices(await alice.ExpectAsync(ExitCodes.Ok, "devices", "--json")).Select(d => d.GetProperty("name").GetString()));

        // Asked at the terminal; no answer or "n" removes nothing.
        Assert.Contains("no terminal", (await alice.ExpectAsync(ExitCodes.Usage, "devices", "remove", "2")).Error, StringComparison.Ordinal);
        alice.Typed.Enqueue("n");
        await alice.ExpectAsync(ExitCodes.Usage, "devices", "remove", "2");
        Assert.Contains("Remove device 2 'work laptop'?", alice.Prompts[^1], StringComparison.Ordinal);
        var current = await laptop.ExpectAsync(ExitCodes.Refused, "devices", "remove", "2", "--yes");
        Assert.Contains("Device 2 is the one you are using", current.Error, StringComparison.Ordinal);
        Assert.Equal(2, Devices(await alice.ExpectAsync(ExitCodes.Ok, "devices", "--json")).Count);

        alice.Typed.Enqueue("y");
        await alice.ExpectAsync(ExitCodes.Ok, "devices", "remove", "2");

        Assert.Equal([1], Devices(await alice.ExpectAsync(ExitCodes.Ok, "devices", "--json")).Select(d => d.GetProperty("device_id").GetInt32()));
        await laptop.ExpectAsync(ExitCodes.Auth, "inbox", "--wait", "1");
    }

    [Fact]
    public async Task Link_accept_asks_before_linking_and_a_code_works_once()
    {
        var (alice, aliceName) = await UserAsync("alice");
        var device = Device();
        using var ctrlC = new CancellationTokenSource();
        var (linking, output) = device.Start(ctrlC.Token, "link", aliceName, "--name", "tablet");
        var code = await CodeFromAsync(output, linking);

        var noTerminal = await alice.ExpectAsync(ExitCodes.Usage, "link", "accept", code);
        alice.Typed.Enqueue("no");
        await alice.ExpectAsync(ExitCodes.Usage, "link", "accept", code);
        var question = alice.Prompts[^1];
        alice.Typed.Enqueue("y");
        await alice.ExpectAsync(ExitCodes.Ok, "link", "accept", code);
        var link = await linking.WaitAsync(TimeSpan.FromSeconds(30));
        var again = await alice.ExpectAsync(ExitCodes.Refused, "link", "accept", code, "--yes");

        Assert.Contains("pass --yes", noTerminal.Error, StringComparison.Ordinal);
        Assert.Matches($"^Link device 'tablet' \\(fingerprint [0-9a-f ]+\\) as device 2 of {aliceName}\\? \\[y/N\\] $", question);
        Assert.Equal(ExitCodes.Ok, link.ExitCode);
        Assert.Contains("expired or was used", again.Error, StringComparison.Ordinal);
    }

    /// <summary>Issue 28: a code with one character of its link key changed was approved, and made a dead device every sender sealed to.</summary>
    [Fact]
    public async Task A_mistyped_code_is_refused_as_mistyped_and_no_device_is_created()
    {
        var (alice, aliceName) = await UserAsync("alice");
        var device = Device();
        using var ctrlC = new CancellationTokenSource();
        var (linking, output) = device.Start(ctrlC.Token, "link", aliceName, "--name", "tablet");
        var code = await CodeFromAsync(output, linking);
        var keyStart = code.IndexOf(':', code.IndexOf(':', "sealpost-link:2:".Length) + 1) + 1;
        var position = keyStart + 10;
        var typo = string.Concat(code.AsSpan(0, position), code[position] == 'A' ? "B" : "A", code.AsSpan(position + 1));

        var refused = await alice.ExpectAsync(ExitCodes.Usage, "link", "accept", typo, "--yes");

        Assert.Contains("mistyped", refused.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("server", refused.Error, StringComparison.Ordinal);
        Assert.Equal([1], Devices(await alice.ExpectAsync(ExitCodes.Ok, "devices", "--json")).Select(d => d.GetProperty("device_id").GetInt32()));
        // The code as shown still works.
        await alice.ExpectAsync(ExitCodes.Ok, "link", "accept", code, "--yes");
        Assert.Equal(ExitCodes.Ok, (await linking.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
    }

    [Fact]
    public async Task Link_asks_for_the_new_passphrase_first_and_ctrl_c_ends_the_wait_with_130()
    {
        var (alice, aliceName) = await UserAsync("alice");
        var device = Device();
        device.Environment.Remove("SEALPOST_PASSPHRASE");
        device.Typed.Enqueue(aliceName.ToUpperInvariant());
        device.Typed.Enqueue("a new passphrase here");
        device.Typed.Enqueue("a new passphrase here");
        using var ctrlC = new CancellationTokenSource();

        var (linking, output) = device.Start(ctrlC.Token, "link");
        await CodeFromAsync(output, linking);
        await ctrlC.CancelAsync();
        var result = await linking.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["Account to join (your username): ", "New passphrase for your private key: ", "Again, to be sure: "], device.Prompts);
        Assert.Equal(ExitCodes.Interrupted, result.ExitCode);
        Assert.Contains($"Link code for this device ('{Environment.MachineName}') to join {aliceName}'s account", result.Out, StringComparison.Ordinal);
        // A profile that holds an account is not linked again, and says so before asking anything.
        alice.Environment.Remove("SEALPOST_PASSPHRASE");
        Assert.Contains("already holds the account", (await alice.ExpectAsync(ExitCodes.Usage, "link")).Error, StringComparison.Ordinal);
        Assert.DoesNotContain(alice.Prompts, p => p.Contains("passphrase", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Hostile_or_mistaken_input_gets_a_clear_message_and_its_exit_code()
    {
        var (alice, aliceName) = await UserAsync("alice");
        var unknownLink = LinkCode.For(aliceName, Guid.NewGuid().ToString(), X25519KeyPair.Generate().PublicKey, X25519KeyPair.Generate().PublicKey).ToString();
        var forBob = LinkCode.For("bob", Guid.NewGuid().ToString(), X25519KeyPair.Generate().PublicKey, X25519KeyPair.Generate().PublicKey).ToString();

        var garbage = await alice.ExpectAsync(ExitCodes.Usage, "link", "accept", "sealpost-link:1:garbage", "--yes");
        var garbageJson = await alice.ExpectAsync(ExitCodes.Usage, "link", "accept", "\u001b]0;pwned\u0007", "--yes", "--json");
        var unknown = await alice.ExpectAsync(ExitCodes.NotFound, "link", "accept", unknownLink, "--yes");
        var notOurs = await alice.ExpectAsync(ExitCodes.Usage, "link", "accept", forBob, "--yes");
        var nobodyToJoin = await Device().ExpectAsync(ExitCodes.Usage, "link", "--name", "laptop");
        var notAName = await Device().ExpectAsync(ExitCodes.Usage, "link", "Alice!", "--name", "laptop");
        var noDevice = await alice.ExpectAsync(ExitCodes.NotFound, "devices", "remove", "9", "--yes");
        await alice.ExpectAsync(ExitCodes.NotFound, "devices", "remove", "9");
        await alice.ExpectAsync(ExitCodes.NotFound, "devices", "rename", "9", "ghost");
        var notANumber = await alice.ExpectAsync(ExitCodes.Usage, "devices", "remove", "two", "--yes");
        await alice.ExpectAsync(ExitCodes.Usage, "devices", "rename", "0", "zero");
        var badName = await alice.ExpectAsync(ExitCodes.Usage, "devices", "rename", "1", "evil\u202ename");
        var noAccount = await Device().ExpectAsync(ExitCodes.Auth, "devices");

        Assert.Contains("The link code is mistyped", garbage.Error, StringComparison.Ordinal);
        Assert.Equal("usage", JsonDocument.Parse(garbageJson.Out).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain("\u001b", garbageJson.Error, StringComparison.Ordinal);
        Assert.Contains("knows no link for this code", unknown.Error, StringComparison.Ordinal);
        Assert.Contains($"for joining bob's account, and this is {aliceName}'s", notOurs.Error, StringComparison.Ordinal);
        Assert.Contains("sealpost link USERNAME", nobodyToJoin.Error, StringComparison.Ordinal);
        Assert.Contains("is not a username", notAName.Error, StringComparison.Ordinal);
        Assert.Contains("no device 9", noDevice.Error, StringComparison.Ordinal);
        Assert.Contains("'two' is not a device id", notANumber.Error, StringComparison.Ordinal);
        Assert.Contains("control or text-direction", badName.Error, StringComparison.Ordinal);
        Assert.Contains("has no account yet", noAccount.Error, StringComparison.Ordinal);
        Assert.Equal(["phone"], Devices(await alice.ExpectAsync(ExitCodes.Ok, "devices", "--json")).Select(d => d.GetProperty("name").GetString()));
    }
}
