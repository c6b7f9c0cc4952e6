using System.Text;
using System.Text.Json;

namespace Sealpost.Crypto.Tests;

/// <summary>The cryptography of linked devices (docs/devices.md): certificates, link codes, link secrets, envelope v2.</summary>
public class DeviceTests
{
    private static readonly string[] Naughty = JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "blns.json")))!;

    private readonly IdentityKey _alice = IdentityKey.Generate();
    private readonly X25519KeyPair _laptop = X25519KeyPair.Generate();

    private DeviceKey Laptop => new("alice", 2, 1, _laptop.PublicKey.ToArray());

    [Fact]
    public void A_certificate_vouches_for_exactly_one_device_key_under_one_identity()
    {
        var certificate = DeviceCertificate.Sign(_alice, Laptop);

        Assert.Equal(IdentityKey.SignatureSize, certificate.Length);
        Assert.True(DeviceCertificate.Verify(_alice.PublicKey, Laptop, certificate));
        using var mallory = IdentityKey.Generate();
        Assert.False(DeviceCertificate.Verify(mallory.PublicKey, Laptop, certificate));
        Assert.False(DeviceCertificate.Verify(_alice.PublicKey, Laptop with { Username = "alicf" }, certificate));
        Assert.False(DeviceCertificate.Verify(_alice.PublicKey, Laptop with { DeviceId = 3 }, certificate));
        Assert.False(DeviceCertificate.Verify(_alice.PublicKey, Laptop with { KeyId = 2 }, certificate));
        Assert.False(DeviceCertificate.Verify(_alice.PublicKey, Laptop with { PublicKey = X25519KeyPair.Generate().PublicKey.ToArray() }, certificate));
        var flipped = (byte[])certificate.Clone();
        flipped[10] ^= 1;
        Assert.False(DeviceCertificate.Verify(_alice.PublicKey, Laptop, flipped));
    }

    /// <summary>A device the server wrote into the directory itself, or anything malformed, is simply not vouched for.</summary>
    [Fact]
    public void A_device_nobody_signed_or_malformed_input_is_refused_without_an_exception()
    {
        Assert.False(DeviceCertificate.Verify(_alice.PublicKey, Laptop, new byte[64]));
        Assert.False(DeviceCertificate.Verify(_alice.PublicKey, Laptop, []));
        Assert.False(DeviceCertificate.Verify([], Laptop, DeviceCertificate.Sign(_alice, Laptop)));
        Assert.False(DeviceCertificate.Verify(new byte[32], Laptop, DeviceCertificate.Sign(_alice, Laptop)));
        Assert.False(DeviceCertificate.Verify(_alice.PublicKey, Laptop with { PublicKey = new byte[31] }, DeviceCertificate.Sign(_alice, Laptop)));
        Assert.False(DeviceCertificate.Verify(_alice.PublicKey, Laptop with { Username = "Alice; DROP" }, DeviceCertificate.Sign(_alice, Laptop)));
    }

    [Fact]
    public void The_identity_key_travels_as_32_bytes_and_signs_the_same_afterwards()
    {
        var exported = _alice.ExportPrivateKey();
        using var copy = IdentityKey.FromPrivateKey(exported);

        Assert.Equal(IdentityKey.PrivateKeySize, exported.Length);
        Assert.Equal(_alice.PublicKey, copy.PublicKey);
        Assert.True(DeviceCertificate.Verify(_alice.PublicKey, Laptop, DeviceCertificate.Sign(copy, Laptop)));
        Assert.Throws<CryptoException>(() => IdentityKey.FromPrivateKey(new byte[31]));
    }

    [Fact]
    public void A_link_code_reads_back_from_its_text_and_its_uri_and_catches_a_swapped_device_key()
    {
        var link = X25519KeyPair.Generate();
        var code = LinkCode.For("alice", "k3J9-xQ_2mVb8TzLw0aP", link.PublicKey, _laptop.PublicKey);

        foreach (var form in new[] { code.ToString(), code.ToUri(), "  " + code + "\n" })
        {
            var read = LinkCode.Parse(form);
            Assert.Equal("alice", read.Username);
            Assert.Equal(code.LinkId, read.LinkId);
            Assert.Equal(code.LinkPublicKey, read.LinkPublicKey);
            Assert.Equal(code.Commitment, read.Commitment);
            Assert.True(read.Matches(_laptop.PublicKey));
            Assert.False(read.Matches(X25519KeyPair.Generate().PublicKey));
        }
        Assert.StartsWith("sealpost-link:2:alice:k3J9-xQ_2mVb8TzLw0aP:", code.ToString(), StringComparison.Ordinal);
        Assert.True(code.ToString().Length < 130);
        Assert.True(LinkCode.For(new string('a', 32), Guid.NewGuid().ToString(), link.PublicKey, _laptop.PublicKey).ToString().Length <= 161);
    }

    [Fact]
    public void Anything_that_is_not_a_link_code_is_refused_as_mistyped_and_a_version_1_code_as_old()
    {
        var valid = LinkCode.For("alice", "k3J9-xQ_2mVb8TzLw0aP", X25519KeyPair.Generate().PublicKey, _laptop.PublicKey).ToString();
        var broken = new[]
        {
            "", "   ", "sealpost-link:2:", valid[..^2], valid[..^1], valid + "A", valid + ":x", valid.Replace("sealpost-link:2:", "sealpost-link:3:", StringComparison.Ordinal),
            valid.Replace("k3J9-xQ_2mVb8TzLw0aP", "short", StringComparison.Ordinal), valid.Replace("k3J9-xQ_2mVb8TzLw0aP", "k3J9/xQ_2mVb8TzLw0aP", StringComparison.Ordinal),
            valid.Replace(":alice:", ":Alice:", StringComparison.Ordinal), valid.Replace(":alice:", "::", StringComparison.Ordinal),
            "sealpost://link?v=2&id=k3J9-xQ_2mVb8TzLw0aP", "sealpost://link?v=2&v=2&id=a&k=b", "sealpost://link?v=2&u=alice&id=k3J9-xQ_2mVb8TzLw0aP&k=a&c=b&x=c",
            "sealpost://link?u=alice&id=k3J9-xQ_2mVb8TzLw0aP&k=a&c=b&x=c&y=d",
        };
        foreach (var text in broken.Concat(Naughty))
        {
            var error = Assert.Throws<LinkCodeException>(() => LinkCode.Parse(text));
            Assert.True(error.Mistyped, text);
            Assert.StartsWith("The link code is mistyped (", error.Message, StringComparison.Ordinal);
        }
        var link = X25519KeyPair.Generate().PublicKey;
        foreach (var old in new[]
        {
            $"sealpost-link:1:k3J9-xQ_2mVb8TzLw0aP:{Base64Url(link)}:{Base64Url(LinkCode.Commit(_laptop.PublicKey))}",
            $"sealpost://link?v=1&id=k3J9-xQ_2mVb8TzLw0aP&k={Base64Url(link)}&c={Base64Url(LinkCode.Commit(_laptop.PublicKey))}",
        })
        {
            var error = Assert.Throws<LinkCodeException>(() => LinkCode.Parse(old));
            Assert.False(error.Mistyped);
            Assert.Contains("older Sealpost (version 1", error.Message, StringComparison.Ordinal);
            Assert.Contains("update Sealpost on the new device", error.Message, StringComparison.Ordinal);
        }
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    [Fact]
    public void The_link_secret_opens_only_with_the_link_key_and_for_its_own_link()
    {
        var link = X25519KeyPair.Generate();
        var code = LinkCode.For("alice", "k3J9-xQ_2mVb8TzLw0aP", link.PublicKey, _laptop.PublicKey);
        var payload = Encoding.UTF8.GetBytes("{\"identity_key\":\"…\"}");

        var sealedSecret = LinkSecret.Seal(code, payload);

        Assert.Equal(payload, LinkSecret.Open(sealedSecret, "alice", code.LinkId, link.PrivateKey));
        Assert.Throws<CryptoException>(() => LinkSecret.Open(sealedSecret, "alice", "another-link-id-0000", link.PrivateKey));
        Assert.Throws<CryptoException>(() => LinkSecret.Open(sealedSecret, "mallory", code.LinkId, link.PrivateKey));
        Assert.Throws<CryptoException>(() => LinkSecret.Open(sealedSecret, "alice", code.LinkId, X25519KeyPair.Generate().PrivateKey));
        Assert.Throws<CryptoException>(() => LinkSecret.Open(sealedSecret.AsSpan(0, 40), "alice", code.LinkId, link.PrivateKey));
    }

    [Fact]
    public void Envelope_v2_carries_the_senders_message_id_time_and_content_type_between_two_devices()
    {
        var (alicePhone, bobLaptop) = (X25519KeyPair.Generate(), X25519KeyPair.Generate());
        var sender = new DeviceSender("alice", 1, 4, alicePhone.PrivateKey.ToArray());
        var recipient = new DeviceRecipient("bob", 2, 9, bobLaptop.PublicKey.ToArray());
        var content = new SealedContent(ContentType.Message, Guid.NewGuid(), DateTimeOffset.FromUnixTimeMilliseconds(1_764_547_200_123), null, Encoding.UTF8.GetBytes("hello"));

        var envelope = EnvelopeV2.Seal(sender, recipient, content);
        var opened = EnvelopeV2.Open(envelope, "bob", 2, 9, bobLaptop.PrivateKey, "alice", 1, alicePhone.PublicKey);

        Assert.Equal(new EnvelopeV2Header(1, 4, 2, 9), EnvelopeV2.ReadHeader(envelope));
        Assert.Equal((content.Type, content.MessageId, content.SentAt, (string?)null), (opened.Type, opened.MessageId, opened.SentAt, opened.OriginalRecipient));
        Assert.Equal(content.Body, opened.Body);
        Assert.Equal(EnvelopeV2.Overhead + 25 + 5, envelope.Length);

        // The devices are bound in: another device of the same account, or a header that names another, does not open it.
        Assert.Throws<CryptoException>(() => EnvelopeV2.Open(envelope, "bob", 3, 9, bobLaptop.PrivateKey, "alice", 1, alicePhone.PublicKey));
        Assert.Throws<CryptoException>(() => EnvelopeV2.Open(envelope, "bob", 2, 9, bobLaptop.PrivateKey, "alice", 2, alicePhone.PublicKey));
        var relabelled = (byte[])envelope.Clone();
        relabelled[7] = 2;   // the sender device id, in clear, changed by the server
        Assert.Throws<CryptoException>(() => EnvelopeV2.Open(relabelled, "bob", 2, 9, bobLaptop.PrivateKey, "alice", 2, alicePhone.PublicKey));
        Assert.Throws<CryptoException>(() => EnvelopeV2.Open(envelope, "bob", 2, 9, bobLaptop.PrivateKey, "carol", 1, alicePhone.PublicKey));
    }

    [Fact]
    public void A_sent_copy_names_its_original_recipient_and_unknown_content_types_are_kept()
    {
        var (phone, laptop) = (X25519KeyPair.Generate(), X25519KeyPair.Generate());
        var sender = new DeviceSender("alice", 1, 1, phone.PrivateKey.ToArray());
        var ownLaptop = new DeviceRecipient("alice", 2, 1, laptop.PublicKey.ToArray());

        var copy = EnvelopeV2.Open(EnvelopeV2.Seal(sender, ownLaptop, new SealedContent(ContentType.SentCopy, Guid.NewGuid(), DateTimeOffset.UtcNow, "bob", [1, 2])),
            "alice", 2, 1, laptop.PrivateKey, "alice", 1, phone.PublicKey);
        var later = EnvelopeV2.Open(EnvelopeV2.Seal(sender, ownLaptop, new SealedContent((ContentType)77, Guid.NewGuid(), DateTimeOffset.UtcNow, null, [3])),
            "alice", 2, 1, laptop.PrivateKey, "alice", 1, phone.PublicKey);

        Assert.Equal((ContentType.SentCopy, "bob"), (copy.Type, copy.OriginalRecipient));
        Assert.Equal([1, 2], copy.Body);
        Assert.Equal((ContentType)77, later.Type);
        Assert.Throws<ArgumentException>(() => EnvelopeV2.Seal(sender, ownLaptop, new SealedContent(ContentType.SentCopy, Guid.NewGuid(), DateTimeOffset.UtcNow, null, [])));
    }

    [Fact]
    public void Versions_are_told_apart_with_a_clear_message()
    {
        var (a, b) = (X25519KeyPair.Generate(), X25519KeyPair.Generate());
        var v1 = Envelope.Seal(new EnvelopeParty("alice", 1, a.PrivateKey.ToArray()), new EnvelopeRecipient("bob", 1, b.PublicKey.ToArray()), [1]);
        var v2 = EnvelopeV2.Seal(new DeviceSender("alice", 1, 1, a.PrivateKey.ToArray()), new DeviceRecipient("bob", 1, 1, b.PublicKey.ToArray()),
            new SealedContent(ContentType.Message, Guid.NewGuid(), DateTimeOffset.UtcNow, null, [1]));

        Assert.Contains("version 1, not version 2", Assert.Throws<CryptoException>(() => EnvelopeV2.ReadHeader(v1)).Message, StringComparison.Ordinal);
        Assert.Contains("version 2", Assert.Throws<CryptoException>(() => Envelope.ReadHeader(v2)).Message, StringComparison.Ordinal);
        Assert.Throws<CryptoException>(() => EnvelopeV2.ReadHeader(v2.AsSpan(0, EnvelopeV2.Overhead)));
    }
}
