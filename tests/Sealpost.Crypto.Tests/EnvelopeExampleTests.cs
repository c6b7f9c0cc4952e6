using System.Text.Json;

namespace Sealpost.Crypto.Tests;

/// <summary>The worked example in docs/envelope.md, kept as a fixed-ikm vector so the doc and the code cannot drift apart.</summary>
public class EnvelopeExampleTests
{
    private static readonly JsonElement Example = Load();

    private static readonly string Doc = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "envelope.md"));

    public static TheoryData<string> DocumentedValues =>
    [
        "skS", "pkS", "skR", "pkR", "ikmE", "skE", "enc", "info", "aad", "shared_secret", "key", "base_nonce", "pt", "ct",
        "envelope", "envelope_base64", "fingerprint_sender", "fingerprint_recipient", "safety_number",
    ];

    [Fact]
    public void Sealing_with_the_example_keys_and_ikmE_gives_the_example_envelope()
    {
        var sender = new EnvelopeParty(Text("sender_username"), KeyId("sender_key_id"), Hex("skS"));
        var recipient = new EnvelopeRecipient(Text("recipient_username"), KeyId("recipient_key_id"), Hex("pkR"));

        var envelope = Envelope.Seal(sender, recipient, Hex("pt"), Hex("ikmE"));

        Assert.Equal(Hex("envelope"), envelope);
        Assert.Equal(Text("envelope_base64"), Convert.ToBase64String(envelope));
        Assert.Equal(Hex("aad"), envelope[..Envelope.HeaderSize]);
        Assert.Equal(Hex("enc"), envelope[Envelope.HeaderSize..(Envelope.HeaderSize + 32)]);
        Assert.Equal(Hex("ct"), envelope[(Envelope.HeaderSize + 32)..]);
    }

    [Fact]
    public void The_example_envelope_opens_to_the_example_plaintext()
    {
        var envelope = Convert.FromBase64String(Text("envelope_base64"));

        var plaintext = Envelope.Open(
            envelope, Text("recipient_username"), KeyId("recipient_key_id"), Hex("skR"), Text("sender_username"), Hex("pkS"));

        Assert.Equal(Hex("pt"), plaintext);
    }

    [Fact]
    public void The_example_intermediate_values_match_the_code()
    {
        Assert.Equal(Hex("pkS"), X25519KeyPair.FromPrivateKey(Hex("skS")).PublicKey.ToArray());
        Assert.Equal(Hex("pkR"), X25519KeyPair.FromPrivateKey(Hex("skR")).PublicKey.ToArray());
        var ephemeral = X25519KeyPair.Derive(Hex("ikmE"));
        Assert.Equal(Hex("skE"), ephemeral.PrivateKey.ToArray());
        Assert.Equal(Hex("enc"), ephemeral.PublicKey.ToArray());

        var info = new byte[128];
        info = info[..Envelope.WriteInfo(info, Text("sender_username"), Text("recipient_username"), KeyId("recipient_key_id"))];
        Assert.Equal(Hex("info"), info);

        var enc = new byte[32];
        var sharedSecret = new byte[32];
        Dhkem.Encap(Hex("pkR"), Hex("skS"), Hex("skE"), enc, sharedSecret);
        Assert.Equal(Hex("shared_secret"), sharedSecret);

        var key = new byte[16];
        var baseNonce = new byte[12];
        Hpke.KeySchedule(HpkeMode.Auth, sharedSecret, info, [], [], key, baseNonce, new byte[32]);
        Assert.Equal(Hex("key"), key);
        Assert.Equal(Hex("base_nonce"), baseNonce);
    }

    [Fact]
    public void The_example_fingerprints_and_safety_number_match_the_code()
    {
        Assert.Equal(Text("fingerprint_sender"), Fingerprint.Of(Hex("pkS")));
        Assert.Equal(Text("fingerprint_recipient"), Fingerprint.Of(Hex("pkR")));
        Assert.Equal(Text("safety_number"), Fingerprint.SafetyNumber(Text("sender_username"), Hex("pkS"), Text("recipient_username"), Hex("pkR")));
    }

    [Theory]
    [MemberData(nameof(DocumentedValues))]
    public void The_doc_shows_the_example_value(string name)
    {
        Assert.Contains(Text(name), Doc, StringComparison.Ordinal);
    }

    private static JsonElement Load()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "envelope-v1-example.json")));
        return document.RootElement.Clone();
    }

    private static string Text(string name) =>
        Example.GetProperty(name).ValueKind == JsonValueKind.Number ? Example.GetProperty(name).GetRawText() : Example.GetProperty(name).GetString()!;

    private static byte[] Hex(string name) => Convert.FromHexString(Text(name));

    private static uint KeyId(string name) => Example.GetProperty(name).GetUInt32();
}
