using System.Text;

namespace Sealpost.Crypto.Tests;

/// <summary>
/// The worked example of linking in docs/devices.md (a link code and a sealed link secret from fixed keys and a fixed
/// ikmE), kept as a vector so the doc and the code cannot drift apart. The vector was made by a separate implementation
/// written from the doc (Python's cryptography package, HPKE by hand from RFC 9180).
/// </summary>
public class LinkExampleTests
{
    private static readonly ExampleVector Example = new("link-example.json", "devices.md");

    public static TheoryData<string> DocumentedValues =>
    [
        "username", "link_id", "skD", "pkD", "skL", "pkL", "commitment", "fields", "check", "code", "uri", "identity_seed", "identity_public",
        "certificate_signed", "certificate", "payload", "pt", "ikmE", "skE", "enc", "info", "shared_secret", "key", "base_nonce", "ct", "sealed_secret_base64url",
    ];

    private static X25519KeyPair Device => X25519KeyPair.FromPrivateKey(Example.Hex("skD"));

    private static X25519KeyPair Link => X25519KeyPair.FromPrivateKey(Example.Hex("skL"));

    private static LinkCode Code => LinkCode.For(Example.Text("username"), Example.Text("link_id"), Link.PublicKey, Device.PublicKey);

    [Fact]
    public void The_example_keys_give_the_example_code_in_both_forms()
    {
        Assert.Equal(Example.Hex("pkD"), Device.PublicKey.ToArray());
        Assert.Equal(Example.Hex("pkL"), Link.PublicKey.ToArray());
        Assert.Equal(Example.Hex("commitment"), LinkCode.Commit(Device.PublicKey));
        Assert.Equal(Example.Text("fields"), Code.Fields);
        Assert.Equal(Example.Hex("check_input"), (byte[])[.. "sealpost/link-code/v2\0"u8, .. Encoding.ASCII.GetBytes(Code.Fields)]);
        Assert.Equal(Example.Text("check"), Code.Check);
        Assert.Equal(Example.Text("code"), Code.ToString());
        Assert.Equal(Example.Text("uri"), Code.ToUri());
        foreach (var form in new[] { Example.Text("code"), Example.Text("uri") })
        {
            var read = LinkCode.Parse(form);
            Assert.Equal((Example.Text("username"), Example.Text("link_id")), (read.Username, read.LinkId));
            Assert.True(read.Matches(Device.PublicKey));
        }
    }

    [Fact]
    public void The_example_certificate_and_payload_are_what_the_approving_device_signs_and_seals()
    {
        using var identity = IdentityKey.FromPrivateKey(Example.Hex("identity_seed"));
        var device = new DeviceKey(Example.Text("username"), Example.Number("device_id"), 1, Device.PublicKey.ToArray());

        Assert.Equal(Example.Hex("identity_public"), identity.PublicKey);
        Assert.Equal(Example.Hex("certificate"), DeviceCertificate.Sign(identity, device));
        Assert.True(DeviceCertificate.Verify(identity.PublicKey, device, Example.Hex("certificate")));
        Assert.Equal(Example.Hex("pt"), Encoding.UTF8.GetBytes(Example.Text("payload")));
    }

    [Fact]
    public void Sealing_the_example_payload_with_the_example_ikmE_gives_the_example_sealed_secret_and_it_opens()
    {
        var sealedSecret = LinkSecret.Seal(Code, Example.Hex("pt"), Example.Hex("ikmE"));

        Assert.Equal(Example.Hex("sealed_secret"), sealedSecret);
        Assert.Equal((byte[])[.. Example.Hex("enc"), .. Example.Hex("ct")], sealedSecret);
        Assert.Equal(Example.Text("sealed_secret_base64url"), System.Buffers.Text.Base64Url.EncodeToString(sealedSecret));
        Assert.Equal(Example.Hex("pt"), LinkSecret.Open(sealedSecret, Example.Text("username"), Example.Text("link_id"), Example.Hex("skL")));
    }

    [Fact]
    public void The_example_intermediate_values_match_the_code()
    {
        var info = LinkSecret.Info(Example.Text("username"), Example.Text("link_id"));
        Assert.Equal(Example.Hex("info"), info);
        var ephemeral = X25519KeyPair.Derive(Example.Hex("ikmE"));
        Assert.Equal(Example.Hex("skE"), ephemeral.PrivateKey.ToArray());
        Assert.Equal(Example.Hex("enc"), ephemeral.PublicKey.ToArray());
        var (enc, sharedSecret) = (new byte[32], new byte[32]);
        Dhkem.Encap(Example.Hex("pkL"), [], Example.Hex("skE"), enc, sharedSecret);
        Assert.Equal(Example.Hex("shared_secret"), sharedSecret);
        var (key, baseNonce) = (new byte[16], new byte[12]);
        Hpke.KeySchedule(HpkeMode.Base, sharedSecret, info, [], [], key, baseNonce, new byte[32]);
        Assert.Equal(Example.Hex("key"), key);
        Assert.Equal(Example.Hex("base_nonce"), baseNonce);
        Assert.Equal(Example.Hex("certificate_signed"),
            DeviceCertificate.SignedBytes(new DeviceKey(Example.Text("username"), Example.Number("device_id"), 1, Example.Hex("pkD"))));
    }

    [Theory]
    [MemberData(nameof(DocumentedValues))]
    public void The_doc_shows_the_example_value(string name) => Assert.Contains(Example.Text(name), Example.Doc, StringComparison.Ordinal);
}
