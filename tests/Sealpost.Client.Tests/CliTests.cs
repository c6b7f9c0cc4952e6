using System.Text.Json;
using Sealpost.Cli;
using Sealpost.Crypto;

namespace Sealpost.Client.Tests;

/// <summary>The CLI without a server: parsing, exit codes, the offline envelope tools, and where settings come from.</summary>
public sealed class CliTests : IDisposable
{
    // The worked example of docs/envelope.md.
    private const string AlicePrivate = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    private const string AlicePublic = "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f";
    private const string BobPrivate = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
    private const string BobPublic = "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254";
    private const string ExampleBody = "U1BFAQAAAAEAAAAHsln27pLcugERhQsTs/bczIJ3JvmwgjWrYpIraz8/KhkSSCj9hWdjzFX7+OS/sCPjj2DrWoOyyfXl7/11IbhAqrnGLw==";

    private readonly TempHome _home = new();
    private readonly CliRunner _cli;

    public CliTests() => _cli = new CliRunner(_home.Path, "http://127.0.0.1:1");

    public void Dispose() => _home.Dispose();

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("send")]
    [InlineData("lookup")]
    [InlineData("inbox", "--wait", "soon")]
    [InlineData("envelope", "seal", "--sender", "alice")]
    public async Task Bad_command_lines_exit_1(params string[] args) =>
        Assert.Equal(ExitCodes.Usage, (await _cli.RunAsync(args)).ExitCode);

    [Fact]
    public async Task Help_exits_0_and_lists_every_command()
    {
        var result = await _cli.ExpectAsync(ExitCodes.Ok, "--help");
        foreach (var command in new[] { "register", "login", "whoami", "lookup", "fingerprint", "trust", "send", "listen", "inbox", "history", "rotate-key", "logout", "link", "devices", "envelope" })
            Assert.Contains(command, result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_envelope_of_the_worked_example_opens_from_base64_or_hex()
    {
        var fromBase64 = await _cli.ExpectAsync(ExitCodes.Ok, "envelope", "open", "--recipient", "bob", "--recipient-private-key", BobPrivate,
            "--sender", "alice", "--sender-public-key", AlicePublic, ExampleBody);
        var hex = Convert.ToHexStringLower(Convert.FromBase64String(ExampleBody));
        var fromHex = await _cli.ExpectAsync(ExitCodes.Ok, "envelope", "open", "--json", "--recipient", "bob", "--recipient-private-key", BobPrivate,
            "--sender", "alice", "--sender-public-key", AlicePublic, hex);

        Assert.Equal("Hi Bob, it's Alice.", fromBase64.Out.TrimEnd('\n'));
        using var json = JsonDocument.Parse(fromHex.Out);
        Assert.Equal("Hi Bob, it's Alice.", json.RootElement.GetProperty("text").GetString());
        Assert.Equal(7u, json.RootElement.GetProperty("recipient_key_id").GetUInt32());
    }

    [Fact]
    public async Task Seal_then_open_round_trips_with_base64_keys_and_stdin()
    {
        var sealedBody = await _cli.RunWithInputAsync("über 🔒\nline two", "envelope", "seal", "--sender", "alice", "--sender-private-key", B64(AlicePrivate),
            "--recipient", "bob", "--recipient-public-key", B64(BobPublic), "--recipient-key-id", "3");
        Assert.Equal(0, sealedBody.ExitCode);

        var opened = await _cli.RunWithInputAsync(sealedBody.Out, "envelope", "open", "--recipient", "bob", "--recipient-private-key", BobPrivate,
            "--sender", "alice", "--sender-public-key", AlicePublic);

        Assert.Equal(0, opened.ExitCode);
        Assert.Equal("über 🔒\nline two", opened.Out.TrimEnd('\n'));
        Assert.Equal(3u, Envelope.ReadHeader(Convert.FromBase64String(sealedBody.Out.Trim())).RecipientKeyId);
    }

    [Fact]
    public async Task An_envelope_from_someone_else_than_claimed_exits_6_with_one_line()
    {
        var result = await _cli.RunAsync("envelope", "open", "--recipient", "bob", "--recipient-private-key", BobPrivate,
            "--sender", "alice", "--sender-public-key", BobPublic, ExampleBody);

        Assert.Equal(ExitCodes.Crypto, result.ExitCode);
        Assert.Single(result.Error.Trim().Split('\n'));
        Assert.StartsWith("sealpost: ", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_keys_are_a_usage_error()
    {
        var result = await _cli.RunAsync("envelope", "seal", "--sender", "alice", "--sender-private-key", "abcd",
            "--recipient", "bob", "--recipient-public-key", BobPublic, "hi");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--sender-private-key", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keygen_prints_a_usable_pair()
    {
        using var json = JsonDocument.Parse((await _cli.ExpectAsync(ExitCodes.Ok, "envelope", "keygen", "--json")).Out);
        var pair = X25519KeyPair.FromPrivateKey(Convert.FromHexString(json.RootElement.GetProperty("private_key").GetString()!));
        Assert.Equal(json.RootElement.GetProperty("public_key").GetString(), Convert.ToHexStringLower(pair.PublicKey));
    }

    [Theory]
    [InlineData("whoami")]
    [InlineData("send", "bob", "hi")]
    [InlineData("inbox")]
    [InlineData("rotate-key")]
    public async Task Commands_that_need_an_account_exit_3_before_one_exists(params string[] args) =>
        Assert.Equal(ExitCodes.Auth, (await _cli.RunAsync(args)).ExitCode);

    [Fact]
    public async Task An_unreachable_server_exits_2()
    {
        var result = await _cli.ExpectAsync(ExitCodes.Network, "lookup", "bob");
        Assert.Contains("127.0.0.1:1", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_server_address_or_username_exits_1()
    {
        await _cli.ExpectAsync(ExitCodes.Usage, "lookup", "bob", "--server", "ftp://example.org");
        await _cli.ExpectAsync(ExitCodes.Usage, "lookup", "not a name");
    }

    [Fact]
    public async Task Empty_history_prints_so_and_json_is_an_array()
    {
        Assert.Equal("No messages.", (await _cli.ExpectAsync(ExitCodes.Ok, "history")).Out.Trim());
        Assert.Equal("[]", (await _cli.ExpectAsync(ExitCodes.Ok, "history", "bob", "--json")).Out.Trim());
    }

    [Fact]
    public async Task Without_a_terminal_or_variable_a_secret_is_a_usage_error_naming_the_variable()
    {
        _cli.Environment.Remove("SEALPOST_PASSWORD");
        var result = await _cli.ExpectAsync(ExitCodes.Usage, "login", "alice");
        Assert.Contains("SEALPOST_PASSWORD", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_server_comes_from_the_option_then_the_environment_then_the_profile_then_config()
    {
        var profile = _home.Profile();
        var console = new CliConsole { Out = TextWriter.Null, Error = TextWriter.Null, In = Stream.Null, Environment = _ => null, ReadSecret = _ => null };
        var app = new CliApp(console);
        var root = new System.CommandLine.RootCommand();
        Assert.Equal(CliApp.DefaultServer + "/", app.ServerOf(root.Parse([]), profile).ToString());

        profile.Write(profile.ConfigFile, new Sealpost.Client.Storage.ClientConfig { Server = "http://config:1" }, Sealpost.Client.Storage.LocalJsonContext.Default.ClientConfig);
        Assert.Equal("http://config:1/", app.ServerOf(root.Parse([]), profile).ToString());

        profile.Write(profile.AccountFile, new Sealpost.Client.Storage.AccountState { Server = "http://profile:2/", Username = "alice", KeyId = 1 }, Sealpost.Client.Storage.LocalJsonContext.Default.AccountState);
        Assert.Equal("http://profile:2/", app.ServerOf(root.Parse([]), profile).ToString());

        var withEnv = new CliApp(new CliConsole { Out = TextWriter.Null, Error = TextWriter.Null, In = Stream.Null, Environment = n => n == "SEALPOST_SERVER" ? "http://env:3" : null, ReadSecret = _ => null });
        Assert.Equal("http://env:3/", withEnv.ServerOf(root.Parse([]), profile).ToString());
    }

    [Fact]
    public void Keys_parse_from_hex_base64_and_base64url()
    {
        var key = Convert.FromHexString(AlicePublic);
        Assert.Equal(key, CliApp.RawKey(AlicePublic, "k"));
        Assert.Equal(key, CliApp.RawKey(Convert.ToBase64String(key), "k"));
        Assert.Equal(key, CliApp.RawKey(System.Buffers.Text.Base64Url.EncodeToString(key), "k"));
    }

    private static string B64(string hex) => Convert.ToBase64String(Convert.FromHexString(hex));
}
