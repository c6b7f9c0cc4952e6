namespace Sealpost.Crypto.Tests;

/// <summary>
/// What docs/devices.md ("Envelope v2", "Certificates") promises an independent implementation, checked against the code:
/// who may send a sent copy, the message id's byte order, the size limits, and how strictly certificates verify.
/// </summary>
public class EnvelopeV2RulesTests
{
    private readonly X25519KeyPair _alicePhone = X25519KeyPair.Generate();
    private readonly X25519KeyPair _aliceLaptop = X25519KeyPair.Generate();
    private readonly X25519KeyPair _bobLaptop = X25519KeyPair.Generate();

    private DeviceSender AlicePhone => new("alice", 1, 1, _alicePhone.PrivateKey.ToArray());

    private static SealedContent Copy(string originalRecipient) =>
        new(ContentType.SentCopy, Guid.NewGuid(), DateTimeOffset.FromUnixTimeMilliseconds(1_796_104_800_000), originalRecipient, [1, 2, 3]);

    /// <summary>
    /// A sent copy says "you sent this to carol": only the account's own devices may say that, so one sealed between two
    /// accounts is refused at both ends, whatever the client around the library checks.
    /// </summary>
    [Fact]
    public void A_sent_copy_between_two_accounts_is_refused_when_sealed_and_when_opened()
    {
        Assert.Throws<ArgumentException>(() => EnvelopeV2.Seal(AlicePhone, new DeviceRecipient("bob", 2, 1, _bobLaptop.PublicKey.ToArray()), Copy("carol")));

        // Built as a contact would have to build it, around the check above: the body is a well-formed sent copy.
        var planted = EnvelopeV2.SealWithoutRules(AlicePhone, new DeviceRecipient("bob", 2, 1, _bobLaptop.PublicKey.ToArray()), Copy("carol"), []);
        var error = Assert.Throws<CryptoException>(() => EnvelopeV2.Open(planted, "bob", 2, 1, _bobLaptop.PrivateKey, "alice", 1, _alicePhone.PublicKey));
        Assert.Contains("another account", error.Message, StringComparison.Ordinal);

        var own = EnvelopeV2.Seal(AlicePhone, new DeviceRecipient("alice", 2, 1, _aliceLaptop.PublicKey.ToArray()), Copy("carol"));
        Assert.Equal("carol", EnvelopeV2.Open(own, "alice", 2, 1, _aliceLaptop.PrivateKey, "alice", 1, _alicePhone.PublicKey).OriginalRecipient);
    }

    /// <summary>The sealed message id is the UUID's 16 bytes in the order its text shows them (RFC 9562), not Guid.ToByteArray()'s.</summary>
    [Fact]
    public void The_message_id_is_sealed_in_the_order_of_its_text()
    {
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        var inner = EnvelopeV2.Inner(new SealedContent(ContentType.Message, id, DateTimeOffset.UnixEpoch, null, []));

        Assert.Equal(Convert.FromHexString("00112233445566778899aabbccddeeff"), inner[1..17]);
        Assert.NotEqual(id.ToByteArray(), inner[1..17]);
    }

    [Fact]
    public void A_body_fits_up_to_the_documented_limit_in_a_message_and_in_a_sent_copy_to_the_longest_name()
    {
        Assert.Equal(49_026, EnvelopeV2.MaxBodySize);
        var longest = new string('c', 32);
        var full = new byte[EnvelopeV2.MaxBodySize];

        var copy = EnvelopeV2.Seal(AlicePhone, new DeviceRecipient("alice", 2, 1, _aliceLaptop.PublicKey.ToArray()),
            new SealedContent(ContentType.SentCopy, Guid.NewGuid(), DateTimeOffset.UtcNow, longest, full));
        var message = EnvelopeV2.Seal(AlicePhone, new DeviceRecipient("bob", 2, 1, _bobLaptop.PublicKey.ToArray()),
            new SealedContent(ContentType.Message, Guid.NewGuid(), DateTimeOffset.UtcNow, null, full));

        Assert.Equal(Envelope.MaxEnvelopeSize, copy.Length);
        Assert.Equal(Envelope.MaxEnvelopeSize - 33, message.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => EnvelopeV2.Seal(AlicePhone, new DeviceRecipient("bob", 2, 1, _bobLaptop.PublicKey.ToArray()),
            new SealedContent(ContentType.Message, Guid.NewGuid(), DateTimeOffset.UtcNow, null, new byte[EnvelopeV2.MaxBodySize + 1])));
        Assert.Throws<CryptoException>(() => EnvelopeV2.ReadHeader(new byte[Envelope.MaxEnvelopeSize + 1]));
    }

    /// <summary>
    /// Certificates verify as libsodium's crypto_sign_verify_detached does (NSec): pure Ed25519 (RFC 8032), a scalar S
    /// at or above the group order refused, a small-order public key or R refused, R compared byte for byte.
    /// </summary>
    [Fact]
    public void Certificates_verify_strictly()
    {
        using var identity = IdentityKey.FromPrivateKey(Convert.FromHexString("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"));
        var device = new DeviceKey("alice", 1, 1, _alicePhone.PublicKey.ToArray());
        var certificate = DeviceCertificate.Sign(identity, device);
        Assert.True(DeviceCertificate.Verify(identity.PublicKey, device, certificate));

        // S + L: the same point equation, a non-canonical scalar (malleability): refused.
        var malleable = (byte[])certificate.Clone();
        AddGroupOrder(malleable.AsSpan(32));
        Assert.False(DeviceCertificate.Verify(identity.PublicKey, device, malleable));

        // The neutral point as the key, R = the neutral point and S = 0 satisfy the cofactorless equation for any message.
        var neutral = new byte[32];
        neutral[0] = 1;
        var anything = new byte[64];
        anything[0] = 1;
        Assert.False(DeviceCertificate.Verify(neutral, device, anything));

        // A key that is not a point's encoding (y = p, non-canonical) is refused, not an exception.
        var nonCanonical = Convert.FromHexString("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
        Assert.False(DeviceCertificate.Verify(nonCanonical, device, certificate));
    }

    private static void AddGroupOrder(Span<byte> scalar)
    {
        // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
        ReadOnlySpan<byte> order =
        [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        var carry = 0;
        for (var i = 0; i < 32; i++)
        {
            var sum = scalar[i] + order[i] + carry;
            scalar[i] = (byte)sum;
            carry = sum >> 8;
        }
        Assert.Equal(0, carry);
    }
}
