namespace Sealpost.Crypto.Tests;

/// <summary>The worked example in docs/envelope.md, kept as a fixed-ikm vector so the doc and the code cannot drift apart.</summary>
public class EnvelopeExampleTests
{
    private static readonly ExampleVector Example = new("envelope-v1-example.json", "envelope.md");


    public static TheoryData<string> DocumentedValues =>
    [
        "skS", "pkS", "skR", "pkR", "ikmE", "skE", "enc", "info", "aad", "shared_secret", "key", "base_nonce", "pt", "ct",
        "envelope", "envelope_base64", "fingerprint_sender", "fingerprint_recipient", "safety_number",
    ];

    [Fact]
    public void Sealing_with_the_example_keys_and_ikmE_gives_the_example_envelope()
    {
        var sender = new EnvelopeParty(Example.Text("sender_username"), Example.Number("sender_key_id"), Example.Hex("skS"));
        var recipient = new EnvelopeRecipient(Example.Text("recipient_username"), Example.Number("recipient_key_id"), Example.Hex("pkR"));

        var envelope = Envelope.Seal(sender, recipient, Example.Hex("pt"), Example.Hex("ikmE"));

        Assert.Equal(Example.Hex("envelope"), envelope);
        Assert.Equal(Example.Text("envelope_base64"), Convert.ToBase64String(envelope));
        Assert.Equal(Example.Hex("aad"), envelope[..Envelope.HeaderSize]);
        Assert.Equal(Example.Hex("enc"), envelope[Envelope.HeaderSize..(Envelope.HeaderSize + 32)]);
        Assert.Equal(Example.Hex("ct"), envelope[(Envelope.HeaderSize + 32)..]);
    }

    [Fact]
    public void The_example_envelope_opens_to_the_example_plaintext()
    {
        var envelope = Convert.FromBase64String(Example.Text("envelope_base64"));

        var plaintext = Envelope.Open(
            envelope, Example.Text("recipient_username"), Example.Number("recipient_key_id"), Example.Hex("skR"), Example.Text("sender_username"), Example.Hex("pkS"));

        Assert.Equal(Example.Hex("pt"), plaintext);
    }

    [Fact]
    public void The_example_intermediate_values_match_the_code()
    {
        Assert.Equal(Example.Hex("pkS"), X25519KeyPair.FromPrivateKey(Example.Hex("skS")).PublicKey.ToArray());
        Assert.Equal(Example.Hex("pkR"), X25519KeyPair.FromPrivateKey(Example.Hex("skR")).PublicKey.ToArray());
        var ephemeral = X25519KeyPair.Derive(Example.Hex("ikmE"));
        Assert.Equal(Example.Hex("skE"), ephemeral.PrivateKey.ToArray());
        Assert.Equal(Example.Hex("enc"), ephemeral.PublicKey.ToArray());

        var info = new byte[128];
        info = info[..Envelope.WriteInfo(info, Example.Text("sender_username"), Example.Text("recipient_username"), Example.Number("recipient_key_id"))];
        Assert.Equal(Example.Hex("info"), info);

        var enc = new byte[32];
        var sharedSecret = new byte[32];
        Dhkem.Encap(Example.Hex("pkR"), Example.Hex("skS"), Example.Hex("skE"), enc, sharedSecret);
        Assert.Equal(Example.Hex("shared_secret"), sharedSecret);

        var key = new byte[16];
        var baseNonce = new byte[12];
        Hpke.KeySchedule(HpkeMode.Auth, sharedSecret, info, [], [], key, baseNonce, new byte[32]);
        Assert.Equal(Example.Hex("key"), key);
        Assert.Equal(Example.Hex("base_nonce"), baseNonce);
    }

    [Fact]
    public void The_example_fingerprints_and_safety_number_match_the_code()
    {
        Assert.Equal(Example.Text("fingerprint_sender"), Fingerprint.Of(Example.Hex("pkS")));
        Assert.Equal(Example.Text("fingerprint_recipient"), Fingerprint.Of(Example.Hex("pkR")));
        Assert.Equal(Example.Text("safety_number"), Fingerprint.SafetyNumber(Example.Text("sender_username"), Example.Hex("pkS"), Example.Text("recipient_username"), Example.Hex("pkR")));
    }

    [Theory]
    [MemberData(nameof(DocumentedValues))]
    public void The_doc_shows_the_example_value(string name)
    {
        Assert.Contains(Example.Text(name), Example.Doc, StringComparison.Ordinal);
    }
}
