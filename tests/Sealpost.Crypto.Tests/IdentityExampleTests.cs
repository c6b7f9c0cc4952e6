namespace Sealpost.Crypto.Tests;

/// <summary>
/// The worked examples of an identity key: a device certificate (docs/devices.md) and the identity fingerprints and
/// safety number (docs/envelope.md), each value checked against the code and shown in the doc.
/// </summary>
public class IdentityExampleTests
{
    private static readonly ExampleVector Certificate = new("certificate-example.json", "devices.md");
    private static readonly ExampleVector Fingerprints = new("identity-fingerprint-example.json", "envelope.md");

    private static DeviceKey Device => new(
        Certificate.Text("username"), Certificate.Number("device_id"), Certificate.Number("key_id"), Certificate.Hex("device_public_key"));

    [Fact]
    public void The_identity_seed_gives_the_example_public_key_signed_bytes_and_certificate()
    {
        using var identity = IdentityKey.FromPrivateKey(Certificate.Hex("identity_seed"));

        Assert.Equal(Certificate.Hex("identity_public_key"), identity.PublicKey);
        Assert.Equal(Certificate.Hex("signed"), DeviceCertificate.SignedBytes(Device));
        // Ed25519 (RFC 8032) is deterministic: the same seed and bytes give the same signature.
        Assert.Equal(Certificate.Hex("certificate"), DeviceCertificate.Sign(identity, Device));
        Assert.True(DeviceCertificate.Verify(Certificate.Hex("identity_public_key"), Device, Certificate.Hex("certificate")));
    }

    [Fact]
    public void The_example_device_key_is_alices_device_key_of_the_envelope_examples()
    {
        var v2 = new ExampleVector("envelope-v2-example.json", "devices.md");

        Assert.Equal(v2.Hex("pkS"), Certificate.Hex("device_public_key"));
        Assert.Equal(Fingerprints.Hex("alice_identity_public_key"), Certificate.Hex("identity_public_key"));
    }

    [Fact]
    public void The_identity_keys_give_the_example_fingerprints_and_safety_number()
    {
        using var alice = IdentityKey.FromPrivateKey(Fingerprints.Hex("alice_identity_seed"));
        using var bob = IdentityKey.FromPrivateKey(Fingerprints.Hex("bob_identity_seed"));

        Assert.Equal(Fingerprints.Hex("alice_identity_public_key"), alice.PublicKey);
        Assert.Equal(Fingerprints.Hex("bob_identity_public_key"), bob.PublicKey);
        Assert.Equal(Fingerprints.Text("alice_fingerprint"), Fingerprint.Of(alice.PublicKey));
        Assert.Equal(Fingerprints.Text("bob_fingerprint"), Fingerprint.Of(bob.PublicKey));
        Assert.Equal(Fingerprints.Text("safety_number"), Fingerprint.SafetyNumber("alice", alice.PublicKey, "bob", bob.PublicKey));
        Assert.Equal(Fingerprints.Text("safety_number"), Fingerprint.SafetyNumber("bob", bob.PublicKey, "alice", alice.PublicKey));
        Assert.Equal(Fingerprints.Text("alice_half") + " " + Fingerprints.Text("bob_half"), Fingerprints.Text("safety_number"));
    }

    [Theory]
    [InlineData("identity_seed")]
    [InlineData("identity_public_key")]
    [InlineData("signed")]
    [InlineData("certificate")]
    public void The_devices_doc_shows_the_certificate_value(string name) => Assert.Contains(Certificate.Text(name), Certificate.Doc, StringComparison.Ordinal);

    [Theory]
    [InlineData("alice_identity_seed")]
    [InlineData("alice_identity_public_key")]
    [InlineData("bob_identity_seed")]
    [InlineData("bob_identity_public_key")]
    [InlineData("alice_fingerprint")]
    [InlineData("bob_fingerprint")]
    [InlineData("alice_half")]
    [InlineData("bob_half")]
    [InlineData("safety_number")]
    public void The_envelope_doc_shows_the_fingerprint_value(string name) => Assert.Contains(Fingerprints.Text(name), Fingerprints.Doc, StringComparison.Ordinal);
}
