using System.Text.Json;
using Sealpost.Cli;

namespace Sealpost.Client.Tests;

/// <summary>
/// <c>sealpost envelope</c> with envelope v2 (issue 28: "an independent implementation can interoperate with v2"): seal
/// with every sealed field chosen, open whichever version the bytes are and show every field, refuse hostile input.
/// </summary>
public sealed class CliEnvelopeV2Tests : IDisposable
{
    // The worked examples of docs/devices.md: alice's device 1 to bob's device 2, and to her own device 2 (a sent copy).
    private const string AlicePrivate = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    private const string AlicePublic = "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f";
    private const string BobPrivate = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
    private const string BobPublic = "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254";
    private const string AliceDevice2Private = "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f";
    private const string AliceDevice2Public = "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f";
    private const string MessageExample = "U1BFAgAAAAEAAAABAAAAAgAAAAeyWfbukty6ARGFCxOz9tzMgncm+bCCNatikitrPz8qGbMC4cUKqbW1ebQR27dkhVCRy2LFBGTQJH6gw3f1j73QdzJiKwyaLDCByr+UjxSPIwsI7VNkGuq8LES8Wg==";
    private const string SentCopyExample = "U1BFAgAAAAEAAAABAAAAAgAAAAGyWfbukty6ARGFCxOz9tzMgncm+bCCNatikitrPz8qGbribtfEJ/moPyF73m/ytZFog2gWBUTMXfXMBoc3DFDjDHyHS+WeCgjPc0HCno+0Pw/P9TpMMWhUwEElbgBR9Cc=";

    // A "sent copy" alice sealed to bob (made outside the SDK, which refuses to): "you sent 'planted' to carol".
    private const string PlantedCopy = "5350450200000001000000010000000200000007b259f6ee92dcba0111850b13b3f6dccc827726f9b08235ab62922b6b3f3f2a19" +
        "b002e1c50aa9b5b579b411dbb764855091cb62c50464d0247eedc936c58fb38c3b3a78781ade59d355d0046d68b55bc0b36601e42b1d";

    private readonly TempHome _home = new();
    private readonly CliRunner _cli;

    public CliEnvelopeV2Tests() => _cli = new CliRunner(_home.Path, "http://127.0.0.1:1");

    public void Dispose() => _home.Dispose();

    private static string[] OpenAsBob(params string[] more) =>
        ["envelope", "open", "--recipient", "bob", "--recipient-private-key", BobPrivate, "--sender", "alice", "--sender-public-key", AlicePublic, .. more];

    private static string[] SealToBob(params string[] more) =>
        ["envelope", "seal", "--v2", "--sender", "alice", "--sender-private-key", AlicePrivate, "--recipient", "bob", "--recipient-public-key", BobPublic, .. more];

    [Fact]
    public async Task The_worked_example_of_envelope_v2_opens_with_every_sealed_field_shown()
    {
        var text = await _cli.ExpectAsync(ExitCodes.Ok, OpenAsBob(MessageExample));
        var json = await _cli.ExpectAsync(ExitCodes.Ok, OpenAsBob("--json", "--recipient-device", "2", "--sender-device", "1", MessageExample));

        Assert.Contains("envelope v2 from alice's device 1 (key id 1) to bob's device 2 (key id 7)", text.Out, StringComparison.Ordinal);
        Assert.Contains("content type 1 (message)", text.Out, StringComparison.Ordinal);
        Assert.Contains("message id 0193795a-8f00-7000-8000-000000000001", text.Out, StringComparison.Ordinal);
        Assert.Contains("sent at 2026-12-01T06:00:00.000Z (1796104800000)", text.Out, StringComparison.Ordinal);
        Assert.EndsWith("\nHi Bob, it's Alice.\n", text.Out, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json.Out);
        var root = document.RootElement;
        Assert.Equal(2, root.GetProperty("version").GetInt32());
        Assert.Equal((1u, 1u, 2u, 7u), (root.GetProperty("sender_device_id").GetUInt32(), root.GetProperty("sender_key_id").GetUInt32(),
            root.GetProperty("recipient_device_id").GetUInt32(), root.GetProperty("recipient_key_id").GetUInt32()));
        Assert.Equal(1, root.GetProperty("content_type").GetInt32());
        Assert.Equal("message", root.GetProperty("content_type_name").GetString());
        Assert.Equal("0193795a-8f00-7000-8000-000000000001", root.GetProperty("message_id").GetString());
        Assert.Equal("2026-12-01T06:00:00.000Z", root.GetProperty("sent_at").GetString());
        Assert.Equal(1796104800000, root.GetProperty("sent_at_ms").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("original_recipient").ValueKind);
        Assert.Equal("Hi Bob, it's Alice.", root.GetProperty("text").GetString());
        Assert.Equal("486920426f622c206974277320416c6963652e", root.GetProperty("body_hex").GetString());
    }

    [Fact]
    public async Task The_worked_example_of_a_sent_copy_opens_on_the_other_device_with_its_original_recipient()
    {
        var result = await _cli.ExpectAsync(ExitCodes.Ok, "envelope", "open", "--json", "--recipient", "alice", "--recipient-private-key", AliceDevice2Private,
            "--sender", "alice", "--sender-public-key", AlicePublic, SentCopyExample);

        using var document = JsonDocument.Parse(result.Out);
        var root = document.RootElement;
        Assert.Equal((2, "sent-copy", "bob"), (root.GetProperty("content_type").GetInt32(), root.GetProperty("content_type_name").GetString(),
            root.GetProperty("original_recipient").GetString()));
        // The copy keeps the original's message id and sending time.
        Assert.Equal("0193795a-8f00-7000-8000-000000000001", root.GetProperty("message_id").GetString());
        Assert.Equal(1796104800000, root.GetProperty("sent_at_ms").GetInt64());
        Assert.Equal("Hi Bob, it's Alice.", root.GetProperty("text").GetString());
    }

    [Fact]
    public async Task Seal_then_open_round_trips_every_field_of_a_message_and_of_a_sent_copy()
    {
        var sealedMessage = await _cli.ExpectAsync(ExitCodes.Ok, SealToBob("--sender-device", "3", "--sender-key-id", "4", "--recipient-device", "2",
            "--recipient-key-id", "7", "--message-id", "00112233-4455-6677-8899-AABBCCDDEEFF", "--sent-at", "2026-12-24T18:30:00.125+01:00", "--hex", "über 🔒"));
        var envelope = Convert.FromHexString(sealedMessage.Out.Trim());
        Assert.Equal(Convert.FromHexString("5350450200000003000000040000000200000007"), envelope[..20]);

        var opened = await _cli.RunWithInputAsync(sealedMessage.Out, OpenAsBob("--json"));
        Assert.Equal(ExitCodes.Ok, opened.ExitCode);
        using (var document = JsonDocument.Parse(opened.Out))
        {
            var root = document.RootElement;
            Assert.Equal((3u, 4u, 2u, 7u), (root.GetProperty("sender_device_id").GetUInt32(), root.GetProperty("sender_key_id").GetUInt32(),
                root.GetProperty("recipient_device_id").GetUInt32(), root.GetProperty("recipient_key_id").GetUInt32()));
            Assert.Equal("00112233-4455-6677-8899-aabbccddeeff", root.GetProperty("message_id").GetString());
            Assert.Equal("2026-12-24T17:30:00.125Z", root.GetProperty("sent_at").GetString());
            Assert.Equal("über 🔒", root.GetProperty("text").GetString());
        }

        var sealedCopy = await _cli.ExpectAsync(ExitCodes.Ok, "envelope", "seal", "--v2", "--sender", "alice", "--sender-private-key", AlicePrivate,
            "--recipient", "alice", "--recipient-public-key", Convert.ToBase64String(Convert.FromHexString(AliceDevice2Public)), "--recipient-device", "2",
            "--content-type", "sent-copy", "--original-recipient", "bob", "--body-hex", "ff0100036120620102");
        var copy = await _cli.RunWithInputAsync(sealedCopy.Out, "envelope", "open", "--json", "--recipient", "alice", "--recipient-private-key", AliceDevice2Private,
            "--sender", "alice", "--sender-public-key", AlicePublic);
        Assert.Equal(ExitCodes.Ok, copy.ExitCode);
        using (var document = JsonDocument.Parse(copy.Out))
        {
            var root = document.RootElement;
            Assert.Equal((2, "bob"), (root.GetProperty("content_type").GetInt32(), root.GetProperty("original_recipient").GetString()));
            Assert.Equal("ff0100036120620102", root.GetProperty("body_hex").GetString());
            Assert.Equal(JsonValueKind.Null, root.GetProperty("text").ValueKind);
            Assert.True(Guid.TryParseExact(root.GetProperty("message_id").GetString(), "D", out var id) && id.Version == 7, "a fresh UUIDv7 by default");
            Assert.InRange(DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeMilliseconds(root.GetProperty("sent_at_ms").GetInt64()), TimeSpan.Zero, TimeSpan.FromMinutes(1));
        }
    }

    [Fact]
    public async Task A_reserved_content_type_is_sealed_and_opened_as_a_number()
    {
        var sealedBody = await _cli.ExpectAsync(ExitCodes.Ok, SealToBob("--content-type", "77", "--body-hex", "00ff"));
        var opened = await _cli.RunWithInputAsync(sealedBody.Out, OpenAsBob());

        Assert.Equal(ExitCodes.Ok, opened.ExitCode);
        Assert.Contains("content type 77 (reserved: a client shows \"a message this version cannot show\")", opened.Out, StringComparison.Ordinal);
        Assert.Contains("body (hex) 00ff", opened.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Envelope_v1_still_seals_and_opens_as_before()
    {
        var sealedBody = await _cli.ExpectAsync(ExitCodes.Ok, "envelope", "seal", "--sender", "alice", "--sender-private-key", AlicePrivate,
            "--recipient", "bob", "--recipient-public-key", BobPublic, "hi");
        var opened = await _cli.RunWithInputAsync(sealedBody.Out, OpenAsBob());

        Assert.Equal(1, Convert.FromBase64String(sealedBody.Out.Trim())[3]);
        Assert.Equal("hi\n", opened.Out);
    }

    public static TheoryData<string[], int, string> BadSeals => new()
    {
        { ["--content-type", "sent-copy", "x"], ExitCodes.Usage, "--original-recipient" },
        { ["--original-recipient", "carol", "x"], ExitCodes.Usage, "--original-recipient" },
        { ["--content-type", "256", "x"], ExitCodes.Usage, "--content-type" },
        { ["--content-type", "copy", "x"], ExitCodes.Usage, "--content-type" },
        { ["--content-type", "sent-copy", "--original-recipient", "carol", "x"], ExitCodes.Usage, "own account" },
        { ["--message-id", "42", "x"], ExitCodes.Usage, "--message-id" },
        { ["--sent-at", "yesterday", "x"], ExitCodes.Usage, "--sent-at" },
        { ["--sent-at", "1969-12-31T23:59:59Z", "x"], ExitCodes.Usage, "--sent-at" },
        { ["--body-hex", "abc", "x"], ExitCodes.Usage, "--body-hex" },
        { ["--body-hex", new string('0', 2 * 49_027)], ExitCodes.Usage, "49026" },
    };

    [Theory]
    [MemberData(nameof(BadSeals))]
    public async Task Bad_seal_inputs_exit_with_one_line_saying_what_is_wrong(string[] options, int exitCode, string says)
    {
        var result = await _cli.RunAsync(SealToBob(options));

        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains(says, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("--sender-device")]
    [InlineData("--recipient-device")]
    [InlineData("--message-id")]
    [InlineData("--sent-at")]
    [InlineData("--content-type")]
    [InlineData("--original-recipient")]
    [InlineData("--body-hex")]
    public async Task Options_of_v2_without_v2_are_a_usage_error(string option)
    {
        var value = option switch { "--message-id" => "00112233-4455-6677-8899-aabbccddeeff", "--sent-at" => "2026-12-01T06:00:00Z", "--content-type" => "message", "--original-recipient" => "carol", "--body-hex" => "00", _ => "2" };
        var result = await _cli.RunAsync("envelope", "seal", "--sender", "alice", "--sender-private-key", AlicePrivate,
            "--recipient", "bob", "--recipient-public-key", BobPublic, option, value, "x");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--v2", result.Error, StringComparison.Ordinal);
    }

    public static TheoryData<string, string[], int, string> BadOpens => new()
    {
        { "truncated", [], ExitCodes.Crypto, "truncated" },
        { "a byte of the ciphertext changed", [], ExitCodes.Crypto, "could not be opened" },
        { "version 9", [], ExitCodes.Crypto, "version 9" },
        { "larger than 48 KiB", [], ExitCodes.Crypto, "49152" },
        { "sealed to another device", ["--recipient-device", "3"], ExitCodes.Crypto, "device 2" },
        { "from another device than claimed", ["--sender-device", "2"], ExitCodes.Crypto, "device 1" },
        { "a sent copy from another account", [], ExitCodes.Crypto, "another account" },
        { "not base64 or hex", [], ExitCodes.Usage, "neither hex nor base64" },
    };

    [Theory]
    [MemberData(nameof(BadOpens))]
    public async Task Hostile_envelopes_exit_with_one_line_and_no_stack_trace(string what, string[] options, int exitCode, string says)
    {
        var example = Convert.FromBase64String(MessageExample);
        byte[] Changed(int at, byte value)
        {
            var copy = (byte[])example.Clone();
            copy[at] = value;
            return copy;
        }
        var envelope = what switch
        {
            "truncated" => Convert.ToHexStringLower(example[..60]),
            "a byte of the ciphertext changed" => Convert.ToHexStringLower(Changed(80, (byte)(example[80] ^ 1))),
            "version 9" => Convert.ToHexStringLower(Changed(3, 9)),
            "larger than 48 KiB" => Convert.ToHexStringLower([.. example, .. new byte[49_152]]),
            "a sent copy from another account" => PlantedCopy,
            "not base64 or hex" => "this is not an envelope!",
            _ => MessageExample,
        };

        var result = await _cli.RunWithInputAsync(envelope, OpenAsBob(options));

        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains(says, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.Trim().Split('\n'));
        Assert.DoesNotContain(" at ", result.Error, StringComparison.Ordinal);
    }
}
