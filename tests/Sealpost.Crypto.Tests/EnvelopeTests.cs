using System.Buffers.Binary;
using System.Text;

namespace Sealpost.Crypto.Tests;

public class EnvelopeTests
{
    private static readonly byte[] Message = Encoding.UTF8.GetBytes("meet me by the old mill");

    private readonly X25519KeyPair _alice = X25519KeyPair.Generate();
    private readonly X25519KeyPair _bob = X25519KeyPair.Generate();

    private EnvelopeParty Alice => new("alice", 3, _alice.PrivateKey.ToArray());

    private EnvelopeRecipient Bob => new("bob", 7, _bob.PublicKey.ToArray());

    [Fact]
    public void Seal_then_open_returns_the_plaintext()
    {
        var envelope = Envelope.Seal(Alice, Bob, Message);

        Assert.Equal(Message.Length + Envelope.Overhead, envelope.Length);
        Assert.Equal(Message, OpenAsBob(envelope));
    }

    [Fact]
    public void Empty_and_largest_plaintexts_round_trip_and_the_largest_fits_the_socket_body()
    {
        Assert.Empty(OpenAsBob(Envelope.Seal(Alice, Bob, [])));

        var largest = new byte[Envelope.MaxPlaintextSize];
        Random.Shared.NextBytes(largest);
        var envelope = Envelope.Seal(Alice, Bob, largest);
        Assert.Equal(Envelope.MaxEnvelopeSize, envelope.Length);
        Assert.Equal(64 * 1024, Convert.ToBase64String(envelope).Length);
        Assert.Equal(largest, OpenAsBob(envelope));
    }

    [Fact]
    public void A_plaintext_over_the_limit_is_refused()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Envelope.Seal(Alice, Bob, new byte[Envelope.MaxPlaintextSize + 1]));
        Assert.Equal("plaintext", error.ParamName);
    }

    [Fact]
    public void The_header_names_the_version_and_both_key_ids()
    {
        var envelope = Envelope.Seal(Alice, Bob, Message);

        Assert.Equal(new EnvelopeHeader(1, 3, 7), Envelope.ReadHeader(envelope));
        Assert.Equal("SPE\u0001"u8.ToArray(), envelope[..4]);
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32BigEndian(envelope.AsSpan(4)));
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32BigEndian(envelope.AsSpan(8)));
    }

    [Fact]
    public void Sealing_the_same_message_twice_gives_different_envelopes()
    {
        Assert.NotEqual(Envelope.Seal(Alice, Bob, Message), Envelope.Seal(Alice, Bob, Message));
    }

    [Fact]
    public void Flipping_any_single_byte_anywhere_is_rejected()
    {
        var envelope = Envelope.Seal(Alice, Bob, "hi"u8);

        for (var i = 0; i < envelope.Length; i++)
        {
            foreach (var mask in new byte[] { 0x01, 0x80 })
            {
                var altered = (byte[])envelope.Clone();
                altered[i] ^= mask;
                Assert.Throws<CryptoException>(() => OpenAsBob(altered));
            }
        }
        Assert.Equal("hi"u8.ToArray(), OpenAsBob(envelope));
    }

    [Fact]
    public void Truncated_or_extended_envelopes_are_rejected()
    {
        var envelope = Envelope.Seal(Alice, Bob, Message);

        for (var length = 0; length < envelope.Length; length++)
            Assert.Throws<CryptoException>(() => OpenAsBob(envelope[..length]));
        Assert.Throws<CryptoException>(() => OpenAsBob([.. envelope, 0]));
    }

    [Fact]
    public void Something_that_is_not_an_envelope_or_of_another_version_says_so()
    {
        var envelope = Envelope.Seal(Alice, Bob, Message);
        var otherVersion = (byte[])envelope.Clone();
        otherVersion[3] = 2;

        Assert.Contains("not a Sealpost envelope", Assert.Throws<CryptoException>(() => Envelope.ReadHeader("hello world"u8)).Message, StringComparison.Ordinal);
        Assert.Contains("version 2", Assert.Throws<CryptoException>(() => Envelope.ReadHeader(otherVersion)).Message, StringComparison.Ordinal);
        Assert.Contains("truncated", Assert.Throws<CryptoException>(() => Envelope.ReadHeader(envelope[..59])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_message_for_someone_else_cannot_be_opened()
    {
        var carol = X25519KeyPair.Generate();
        var envelope = Envelope.Seal(Alice, new EnvelopeRecipient("carol", 7, carol.PublicKey.ToArray()), Message);

        Assert.Throws<CryptoException>(() => Envelope.Open(envelope, "bob", 7, _bob.PrivateKey, "alice", _alice.PublicKey));
        Assert.Throws<CryptoException>(() => Envelope.Open(envelope, "carol", 7, _bob.PrivateKey, "alice", _alice.PublicKey));
        Assert.Equal(Message, Envelope.Open(envelope, "carol", 7, carol.PrivateKey, "alice", _alice.PublicKey));
    }

    [Fact]
    public void A_sender_whose_key_does_not_match_the_claimed_sender_is_rejected()
    {
        var mallory = X25519KeyPair.Generate();
        var forged = Envelope.Seal(new EnvelopeParty("alice", 3, mallory.PrivateKey.ToArray()), Bob, Message);

        Assert.Throws<CryptoException>(() => OpenAsBob(forged));
        // The same key under another claimed username fails too: the sender's name is bound in info.
        var genuine = Envelope.Seal(Alice, Bob, Message);
        Assert.Throws<CryptoException>(() => Envelope.Open(genuine, "bob", 7, _bob.PrivateKey, "mallory", _alice.PublicKey));
    }

    [Fact]
    public void A_wrong_recipient_username_is_rejected()
    {
        var envelope = Envelope.Seal(Alice, Bob, Message);

        Assert.Throws<CryptoException>(() => Envelope.Open(envelope, "bobby", 7, _bob.PrivateKey, "alice", _alice.PublicKey));
    }

    [Fact]
    public void A_wrong_recipient_key_id_is_rejected_with_both_ids_named()
    {
        var envelope = Envelope.Seal(Alice, Bob, Message);

        var error = Assert.Throws<CryptoException>(() => Envelope.Open(envelope, "bob", 8, _bob.PrivateKey, "alice", _alice.PublicKey));
        Assert.Contains("key id 7", error.Message, StringComparison.Ordinal);
        Assert.Contains("key id 8", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bob", 8u, "alice")]
    [InlineData("bobby", 7u, "alice")]
    [InlineData("bob", 7u, "alicia")]
    public void The_hpke_info_itself_binds_recipient_key_id_and_both_usernames(string recipient, uint recipientKeyId, string sender)
    {
        var envelope = Envelope.Seal(Alice, Bob, Message);
        var enc = envelope.AsSpan(Envelope.HeaderSize, 32).ToArray();
        var aad = envelope[..Envelope.HeaderSize];
        var ct = envelope[(Envelope.HeaderSize + 32)..];

        Assert.Equal(Message, Hpke.OpenAuth(enc, _bob.PrivateKey, _alice.PublicKey, Info("alice", "bob", 7), aad, ct));
        Assert.Throws<CryptoException>(() => Hpke.OpenAuth(enc, _bob.PrivateKey, _alice.PublicKey, Info(sender, recipient, recipientKeyId), aad, ct));
    }

    [Fact]
    public void Info_has_the_documented_layout()
    {
        var expected = Encoding.ASCII.GetBytes("sealpost/envelope/v1\0\u0005alice\u0003bob").Concat(new byte[] { 0, 0, 1, 2 }).ToArray();
        Assert.Equal(expected, Info("alice", "bob", 0x0102));
    }

    [Theory]
    [InlineData("Alice")]
    [InlineData("al")]
    [InlineData("a-b-c")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456")]
    [InlineData("ålice")]
    public void Usernames_outside_the_allowed_pattern_are_refused(string username)
    {
        Assert.Throws<ArgumentException>(() => Envelope.Seal(Alice with { Username = username }, Bob, Message));
        Assert.Throws<ArgumentException>(() => Envelope.Seal(Alice, Bob with { Username = username }, Message));
        var envelope = Envelope.Seal(Alice, Bob, Message);
        Assert.Throws<ArgumentException>(() => Envelope.Open(envelope, username, 7, _bob.PrivateKey, "alice", _alice.PublicKey));
    }

    [Fact]
    public void Bad_recipient_keys_are_refused_with_clear_errors()
    {
        Assert.Contains("32 bytes", Assert.Throws<ArgumentException>(() => Envelope.Seal(Alice, Bob with { PublicKey = new byte[31] }, Message)).Message, StringComparison.Ordinal);
        Assert.Contains("small-order", Assert.Throws<CryptoException>(() => Envelope.Seal(Alice, Bob with { PublicKey = new byte[32] }, Message)).Message, StringComparison.Ordinal);
        var envelope = Envelope.Seal(Alice, Bob, Message);
        Assert.Contains("small-order", Assert.Throws<CryptoException>(() => Envelope.Open(envelope, "bob", 7, _bob.PrivateKey, "alice", new byte[32])).Message, StringComparison.Ordinal);
    }

    private static byte[] Info(string sender, string recipient, uint recipientKeyId)
    {
        var buffer = new byte[128];
        return buffer[..Envelope.WriteInfo(buffer, sender, recipient, recipientKeyId)];
    }

    private byte[] OpenAsBob(byte[] envelope) => Envelope.Open(envelope, "bob", 7, _bob.PrivateKey, "alice", _alice.PublicKey);
}
