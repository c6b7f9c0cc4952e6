using System.Text.Json;
using Sealpost.Crypto;
using Sealpost.Testing;

namespace Sealpost.Web.Tests;

/// <summary>
/// The vector file the page's node tests open (src/Sealpost.Web/test/vectors/v2-interop.json: a sent copy sealed by
/// Sealpost.Crypto with a random ephemeral key, and a device certificate) still holds for Sealpost.Crypto, so the two
/// implementations are checked against the same bytes.
/// </summary>
public sealed class CryptoVectorTests
{
    private static readonly JsonElement Vector = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(TestEnvironment.RepoRoot, "src", "Sealpost.Web", "test", "vectors", "v2-interop.json"))).RootElement;

    private static byte[] Hex(string name) => Convert.FromHexString(Vector.GetProperty(name).GetString()!);

    private static uint Id(string name) => (uint)Vector.GetProperty(name).GetInt32();

    [Fact]
    public void The_page_vectors_sent_copy_opens_and_its_certificate_verifies_in_Sealpost_Crypto()
    {
        using var identity = IdentityKey.FromPrivateKey(Hex("identity_seed"));
        Assert.Equal(Hex("identity_public_key"), identity.PublicKey);
        var device = new DeviceKey("alice", Id("device_id"), Id("key_id"), Hex("device_public_key"));
        Assert.Equal(Hex("certificate"), DeviceCertificate.Sign(identity, device));
        Assert.True(DeviceCertificate.Verify(identity.PublicKey, device, Hex("certificate")));

        var content = EnvelopeV2.Open(Hex("envelope"), "alice", Id("recipient_device_id"), Id("recipient_key_id"), Hex("recipient_private_key"),
            "alice", Id("device_id"), Hex("device_public_key"));
        Assert.Equal(ContentType.SentCopy, content.Type);
        Assert.Equal(Guid.Parse(Vector.GetProperty("message_id").GetString()!), content.MessageId);
        Assert.Equal(Vector.GetProperty("sent_at_ms").GetInt64(), content.SentAt.ToUnixTimeMilliseconds());
        Assert.Equal("bob", content.OriginalRecipient);
        Assert.Equal(Hex("body"), content.Body);
    }
}
