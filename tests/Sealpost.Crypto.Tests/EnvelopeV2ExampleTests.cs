using System.Text.Json;

namespace Sealpost.Crypto.Tests;

/// <summary>The worked example of envelope v2 in docs/devices.md, kept as a fixed-ikm vector so the doc and the code cannot drift apart.</summary>
public class EnvelopeV2ExampleTests
{
    private static readonly JsonElement Example = Load();

    private static readonly string Doc = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "devices.md"));

    public static TheoryData<string> DocumentedValues =>
    [
        "skS", "pkS", "skR", "pkR", "ikmE", "skE", "enc", "info", "aad", "shared_secret", "key", "base_nonce", "pt", "ct",
        "envelope", "envelope_base64", "message_id", "sent_at", "sent_at_ms",
    ];

    private static SealedContent Content => new(
        (ContentType)Example.GetProperty("content_type").GetByte(), Guid.Parse(Text("message_id")),
        DateTimeOffset.FromUnixTimeMilliseconds(Example.GetProperty("sent_at_ms").GetInt64()), null, Hex("body"));

    [Fact]
    public void Sealing_with_the_example_keys_and_ikmE_gives_the_example_envelope()
    {
        var sender = new DeviceSender(Text("sender_username"), Number("sender_device_id"), Number("sender_key_id"), Hex("skS"));
        var recipient = new DeviceRecipient(Text("recipient_username"), Number("recipient_device_id"), Number("recipient_key_id"), Hex("pkR"));

        var envelope = EnvelopeV2.Seal(sender, recipient, Content, Hex("ikmE"));

        Assert.Equal(Hex("envelope"), envelope);
        Assert.Equal(Text("envelope_base64"), Convert.ToBase64String(envelope));
        Assert.Equal(Hex("aad"), envelope[..EnvelopeV2.HeaderSize]);
        Assert.Equal(Hex("enc"), envelope[EnvelopeV2.HeaderSize..(EnvelopeV2.HeaderSize + 32)]);
        Assert.Equal(Hex("ct"), envelope[(EnvelopeV2.HeaderSize + 32)..]);
        Assert.Equal(Hex("pt"), EnvelopeV2.Inner(Content));
        Assert.Equal(DateTimeOffset.Parse(Text("sent_at"), System.Globalization.CultureInfo.InvariantCulture), Content.SentAt);
    }

    [Fact]
    public void The_example_envelope_opens_to_the_example_content()
    {
        var opened = EnvelopeV2.Open(Convert.FromBase64String(Text("envelope_base64")),
            Text("recipient_username"), Number("recipient_device_id"), Number("recipient_key_id"), Hex("skR"),
            Text("sender_username"), Number("sender_device_id"), Hex("pkS"));

        Assert.Equal((Content.Type, Content.MessageId, Content.SentAt, (string?)null), (opened.Type, opened.MessageId, opened.SentAt, opened.OriginalRecipient));
        Assert.Equal(Hex("body"), opened.Body);
    }

    [Fact]
    public void The_example_intermediate_values_match_the_code()
    {
        var info = EnvelopeV2.Info(Text("sender_username"), Number("sender_device_id"), Text("recipient_username"), Number("recipient_device_id"), Number("recipient_key_id"));
        Assert.Equal(Hex("info"), info);
        var ephemeral = X25519KeyPair.Derive(Hex("ikmE"));
        Assert.Equal(Hex("skE"), ephemeral.PrivateKey.ToArray());
        Assert.Equal(Hex("enc"), ephemeral.PublicKey.ToArray());
        var (enc, sharedSecret) = (new byte[32], new byte[32]);
        Dhkem.Encap(Hex("pkR"), Hex("skS"), Hex("skE"), enc, sharedSecret);
        Assert.Equal(Hex("shared_secret"), sharedSecret);
        var (key, baseNonce) = (new byte[16], new byte[12]);
        Hpke.KeySchedule(HpkeMode.Auth, sharedSecret, info, [], [], key, baseNonce, new byte[32]);
        Assert.Equal(Hex("key"), key);
        Assert.Equal(Hex("base_nonce"), baseNonce);
    }

    [Theory]
    [MemberData(nameof(DocumentedValues))]
    public void The_doc_shows_the_example_value(string name) => Assert.Contains(Text(name), Doc, StringComparison.Ordinal);

    private static JsonElement Load()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "envelope-v2-example.json")));
        return document.RootElement.Clone();
    }

    private static string Text(string name) =>
        Example.GetProperty(name).ValueKind == JsonValueKind.Number ? Example.GetProperty(name).GetRawText() : Example.GetProperty(name).GetString()!;

    private static byte[] Hex(string name) => Convert.FromHexString(Text(name));

    private static uint Number(string name) => Example.GetProperty(name).GetUInt32();
}
