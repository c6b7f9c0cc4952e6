namespace Sealpost.Crypto.Tests;

/// <summary>The worked example of envelope v2 in docs/devices.md, kept as a fixed-ikm vector so the doc and the code cannot drift apart.</summary>
public sealed class EnvelopeV2ExampleTests() : EnvelopeV2Example("envelope-v2-example.json");

/// <summary>The worked example of a sent copy (content type 2, to the sender's own other device) in docs/devices.md.</summary>
public sealed class SentCopyExampleTests() : EnvelopeV2Example("sent-copy-example.json")
{
    [Fact]
    public void The_copy_keeps_the_original_messages_id_and_time()
    {
        var original = new ExampleVector("envelope-v2-example.json", "devices.md");

        Assert.Equal((original.Text("message_id"), original.Text("sent_at_ms")), (Example.Text("message_id"), Example.Text("sent_at_ms")));
        Assert.Equal(original.Hex("body"), Example.Hex("body"));
        Assert.Equal(ContentType.SentCopy, Content.Type);
    }
}

/// <summary>An envelope v2 worked example: sealed with its fixed ikmE it gives its envelope, which opens to its content.</summary>
public abstract class EnvelopeV2Example(string vector)
{
    private protected ExampleVector Example { get; } = new(vector, "devices.md");


    public static TheoryData<string> DocumentedValues =>
    [
        "skS", "pkS", "skR", "pkR", "ikmE", "skE", "enc", "info", "aad", "shared_secret", "key", "base_nonce", "pt", "ct",
        "envelope", "envelope_base64", "message_id", "sent_at", "sent_at_ms",
    ];

    protected SealedContent Content => new(
        (ContentType)Example.Number("content_type"), Guid.Parse(Example.Text("message_id")),
        DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(Example.Text("sent_at_ms"), System.Globalization.CultureInfo.InvariantCulture)),
        Example.TextOrNull("original_recipient"), Example.Hex("body"));

    [Fact]
    public void Sealing_with_the_example_keys_and_ikmE_gives_the_example_envelope()
    {
        var sender = new DeviceSender(Example.Text("sender_username"), Example.Number("sender_device_id"), Example.Number("sender_key_id"), Example.Hex("skS"));
        var recipient = new DeviceRecipient(Example.Text("recipient_username"), Example.Number("recipient_device_id"), Example.Number("recipient_key_id"), Example.Hex("pkR"));

        var envelope = EnvelopeV2.Seal(sender, recipient, Content, Example.Hex("ikmE"));

        Assert.Equal(Example.Hex("envelope"), envelope);
        Assert.Equal(Example.Text("envelope_base64"), Convert.ToBase64String(envelope));
        Assert.Equal(Example.Hex("aad"), envelope[..EnvelopeV2.HeaderSize]);
        Assert.Equal(Example.Hex("enc"), envelope[EnvelopeV2.HeaderSize..(EnvelopeV2.HeaderSize + 32)]);
        Assert.Equal(Example.Hex("ct"), envelope[(EnvelopeV2.HeaderSize + 32)..]);
        Assert.Equal(Example.Hex("pt"), EnvelopeV2.Inner(Content));
        Assert.Equal(DateTimeOffset.Parse(Example.Text("sent_at"), System.Globalization.CultureInfo.InvariantCulture), Content.SentAt);
    }

    [Fact]
    public void The_example_envelope_opens_to_the_example_content()
    {
        var opened = EnvelopeV2.Open(Convert.FromBase64String(Example.Text("envelope_base64")),
            Example.Text("recipient_username"), Example.Number("recipient_device_id"), Example.Number("recipient_key_id"), Example.Hex("skR"),
            Example.Text("sender_username"), Example.Number("sender_device_id"), Example.Hex("pkS"));

        Assert.Equal((Content.Type, Content.MessageId, Content.SentAt, Content.OriginalRecipient), (opened.Type, opened.MessageId, opened.SentAt, opened.OriginalRecipient));
        Assert.Equal(Example.Hex("body"), opened.Body);
    }

    [Fact]
    public void The_example_intermediate_values_match_the_code()
    {
        var info = EnvelopeV2.Info(Example.Text("sender_username"), Example.Number("sender_device_id"), Example.Text("recipient_username"), Example.Number("recipient_device_id"), Example.Number("recipient_key_id"));
        Assert.Equal(Example.Hex("info"), info);
        var ephemeral = X25519KeyPair.Derive(Example.Hex("ikmE"));
        Assert.Equal(Example.Hex("skE"), ephemeral.PrivateKey.ToArray());
        Assert.Equal(Example.Hex("enc"), ephemeral.PublicKey.ToArray());
        var (enc, sharedSecret) = (new byte[32], new byte[32]);
        Dhkem.Encap(Example.Hex("pkR"), Example.Hex("skS"), Example.Hex("skE"), enc, sharedSecret);
        Assert.Equal(Example.Hex("shared_secret"), sharedSecret);
        var (key, baseNonce) = (new byte[16], new byte[12]);
        Hpke.KeySchedule(HpkeMode.Auth, sharedSecret, info, [], [], key, baseNonce, new byte[32]);
        Assert.Equal(Example.Hex("key"), key);
        Assert.Equal(Example.Hex("base_nonce"), baseNonce);
    }

    [Theory]
    [MemberData(nameof(DocumentedValues))]
    public void The_doc_shows_the_example_value(string name) => Assert.Contains(Example.Text(name), Example.Doc, StringComparison.Ordinal);
}
