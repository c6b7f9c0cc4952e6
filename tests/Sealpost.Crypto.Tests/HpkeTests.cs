using System.Text;

namespace Sealpost.Crypto.Tests;

public class HpkeTests
{
    // A point of order 8 on Curve25519 (RFC 7748 §7 / libsodium's blocklist): X25519 with it is all zeros.
    private static readonly byte[] SmallOrderPoint = Convert.FromHexString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");

    private static readonly byte[] Info = Encoding.ASCII.GetBytes("test info");
    private static readonly byte[] Aad = Encoding.ASCII.GetBytes("test aad");
    private static readonly byte[] Message = Encoding.UTF8.GetBytes("the eagle lands at dawn ✉");

    [Fact]
    public void Base_mode_single_shot_round_trips()
    {
        var recipient = X25519KeyPair.Generate();
        var (enc, ct) = Hpke.SealBase(recipient.PublicKey, Info, Aad, Message);

        Assert.Equal(Hpke.EncapsulatedKeySize, enc.Length);
        Assert.Equal(Message.Length + Hpke.TagSize, ct.Length);
        Assert.Equal(Message, Hpke.OpenBase(enc, recipient.PrivateKey, Info, Aad, ct));
    }

    [Fact]
    public void Auth_mode_single_shot_round_trips()
    {
        var sender = X25519KeyPair.Generate();
        var recipient = X25519KeyPair.Generate();
        var (enc, ct) = Hpke.SealAuth(recipient.PublicKey, sender.PrivateKey, Info, Aad, Message);

        Assert.Equal(Message, Hpke.OpenAuth(enc, recipient.PrivateKey, sender.PublicKey, Info, Aad, ct));
    }

    [Fact]
    public void Each_seal_uses_a_fresh_ephemeral_key()
    {
        var recipient = X25519KeyPair.Generate();
        var first = Hpke.SealBase(recipient.PublicKey, Info, Aad, Message);
        var second = Hpke.SealBase(recipient.PublicKey, Info, Aad, Message);

        Assert.NotEqual(first.Enc, second.Enc);
        Assert.NotEqual(first.Ciphertext, second.Ciphertext);
    }

    [Fact]
    public void Contexts_carry_many_messages_in_order_and_export_the_same_secret()
    {
        var sender = X25519KeyPair.Generate();
        var recipient = X25519KeyPair.Generate();
        var psk = new byte[32];
        Random.Shared.NextBytes(psk);
        using var seal = Hpke.SetupAuthPskSender(recipient.PublicKey, Info, psk, "id"u8, sender.PrivateKey, out var enc);
        using var open = Hpke.SetupAuthPskRecipient(enc, recipient.PrivateKey, Info, psk, "id"u8, sender.PublicKey);

        for (var i = 0; i < 10; i++)
        {
            var pt = Encoding.ASCII.GetBytes($"message {i}");
            Assert.Equal(pt, open.Open(Aad, seal.Seal(Aad, pt)));
        }
        Assert.Equal(10UL, seal.SequenceNumber);
        Assert.Equal(10UL, open.SequenceNumber);
        Assert.Equal(seal.Export("ctx"u8, 48), open.Export("ctx"u8, 48));
        Assert.NotEqual(seal.Export("ctx"u8, 32), seal.Export("other"u8, 32));
    }

    [Fact]
    public void A_message_opened_out_of_order_is_rejected_and_does_not_advance_the_context()
    {
        var recipient = X25519KeyPair.Generate();
        using var seal = Hpke.SetupBaseSender(recipient.PublicKey, Info, out var enc);
        using var open = Hpke.SetupBaseRecipient(enc, recipient.PrivateKey, Info);
        var first = seal.Seal(Aad, Message);
        var second = seal.Seal(Aad, Message);

        Assert.Throws<CryptoException>(() => open.Open(Aad, second));
        Assert.Equal(0UL, open.SequenceNumber);
        Assert.Equal(Message, open.Open(Aad, first));
        Assert.Equal(Message, open.Open(Aad, second));
    }

    [Fact]
    public void Psk_mode_needs_the_same_psk_on_both_sides()
    {
        var recipient = X25519KeyPair.Generate();
        var psk = Enumerable.Repeat((byte)7, 32).ToArray();
        var otherPsk = Enumerable.Repeat((byte)8, 32).ToArray();
        using var seal = Hpke.SetupPskSender(recipient.PublicKey, Info, psk, "id"u8, out var enc);
        var ct = seal.Seal(Aad, Message);

        using var wrong = Hpke.SetupPskRecipient(enc, recipient.PrivateKey, Info, otherPsk, "id"u8);
        Assert.Throws<CryptoException>(() => wrong.Open(Aad, ct));
        using var right = Hpke.SetupPskRecipient(enc, recipient.PrivateKey, Info, psk, "id"u8);
        Assert.Equal(Message, right.Open(Aad, ct));
    }

    [Fact]
    public void A_short_psk_or_a_psk_without_id_is_refused()
    {
        var recipient = X25519KeyPair.Generate();
        var error = Assert.Throws<ArgumentException>(() => Hpke.SetupPskSender(recipient.PublicKey, Info, new byte[31], "id"u8, out _));
        Assert.Contains("at least 32 bytes", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Hpke.SetupPskSender(recipient.PublicKey, Info, new byte[32], [], out _));
    }

    [Fact]
    public void Opening_with_another_recipient_key_fails()
    {
        var recipient = X25519KeyPair.Generate();
        var someoneElse = X25519KeyPair.Generate();
        var (enc, ct) = Hpke.SealBase(recipient.PublicKey, Info, Aad, Message);

        var error = Assert.Throws<CryptoException>(() => Hpke.OpenBase(enc, someoneElse.PrivateKey, Info, Aad, ct));
        Assert.Contains("could not be opened", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Auth_mode_rejects_a_sender_key_other_than_the_one_that_sealed()
    {
        var sender = X25519KeyPair.Generate();
        var impostor = X25519KeyPair.Generate();
        var recipient = X25519KeyPair.Generate();
        var (enc, ct) = Hpke.SealAuth(recipient.PublicKey, impostor.PrivateKey, Info, Aad, Message);

        Assert.Throws<CryptoException>(() => Hpke.OpenAuth(enc, recipient.PrivateKey, sender.PublicKey, Info, Aad, ct));
    }

    [Fact]
    public void Different_info_or_aad_is_rejected()
    {
        var recipient = X25519KeyPair.Generate();
        var (enc, ct) = Hpke.SealBase(recipient.PublicKey, Info, Aad, Message);

        Assert.Throws<CryptoException>(() => Hpke.OpenBase(enc, recipient.PrivateKey, "other info"u8, Aad, ct));
        Assert.Throws<CryptoException>(() => Hpke.OpenBase(enc, recipient.PrivateKey, Info, "other aad"u8, ct));
        Assert.Throws<CryptoException>(() => Hpke.OpenBase(enc, recipient.PrivateKey, Info, Aad, ct[..^1]));
        Assert.Throws<CryptoException>(() => Hpke.OpenBase(enc, recipient.PrivateKey, Info, Aad, ct[..15]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    public void Keys_of_the_wrong_size_are_refused_with_a_clear_message(int size)
    {
        var key = new byte[size];
        var good = X25519KeyPair.Generate();

        AssertWrongSize(() => Hpke.SealBase(key, Info, Aad, Message), "pkR", size);
        AssertWrongSize(() => Hpke.SealAuth(good.PublicKey, key, Info, Aad, Message), "skS", size);
        AssertWrongSize(() => Hpke.OpenBase(key, good.PrivateKey, Info, Aad, new byte[16]), "enc", size);
        AssertWrongSize(() => Hpke.OpenBase(good.PublicKey, key, Info, Aad, new byte[16]), "skR", size);
        AssertWrongSize(() => Hpke.OpenAuth(good.PublicKey, good.PrivateKey, key, Info, Aad, new byte[16]), "pkS", size);
        AssertWrongSize(() => X25519KeyPair.FromPrivateKey(key), "privateKey", size);
    }

    [Fact]
    public void All_zero_and_small_order_public_keys_are_refused()
    {
        var good = X25519KeyPair.Generate();
        foreach (var bad in new[] { new byte[32], SmallOrderPoint })
        {
            AssertSmallOrder(() => Hpke.SealBase(bad, Info, Aad, Message));
            AssertSmallOrder(() => Hpke.OpenBase(bad, good.PrivateKey, Info, Aad, new byte[16]));
            AssertSmallOrder(() => Hpke.OpenAuth(X25519KeyPair.Generate().PublicKey, good.PrivateKey, bad, Info, Aad, new byte[16]));
        }
    }

    [Fact]
    public void A_sender_context_cannot_open_and_a_recipient_context_cannot_seal()
    {
        var recipient = X25519KeyPair.Generate();
        using var seal = Hpke.SetupBaseSender(recipient.PublicKey, Info, out var enc);
        using var open = Hpke.SetupBaseRecipient(enc, recipient.PrivateKey, Info);

        Assert.Throws<InvalidOperationException>(() => seal.Open(Aad, new byte[16]));
        Assert.Throws<InvalidOperationException>(() => open.Seal(Aad, Message));
    }

    [Fact]
    public void Key_pairs_are_random_and_rebuild_from_their_private_key()
    {
        var a = X25519KeyPair.Generate();
        var b = X25519KeyPair.Generate();
        Assert.False(a.PrivateKey.SequenceEqual(b.PrivateKey));

        var rebuilt = X25519KeyPair.FromPrivateKey(a.PrivateKey);
        Assert.True(rebuilt.PublicKey.SequenceEqual(a.PublicKey));
        Assert.DoesNotContain(Convert.ToHexStringLower(a.PrivateKey), a.ToString(), StringComparison.Ordinal);
    }

    private static void AssertWrongSize(Action action, string parameter, int size)
    {
        var error = Assert.Throws<ArgumentException>(action);
        Assert.Equal(parameter, error.ParamName);
        Assert.Contains($"is 32 bytes; got {size}", error.Message, StringComparison.Ordinal);
    }

    private static void AssertSmallOrder(Action action)
    {
        var error = Assert.Throws<CryptoException>(action);
        Assert.Contains("small-order point", error.Message, StringComparison.Ordinal);
    }
}
