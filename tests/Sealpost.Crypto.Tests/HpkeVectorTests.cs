using System.Text.Json;

namespace Sealpost.Crypto.Tests;

public class HpkeVectorTests
{
    public static TheoryData<int> Modes => [.. HpkeVectors.Vectors.Select(v => v.GetProperty("mode").GetInt32())];

    public static TheoryData<int, int> Encryptions => Cases("encryptions");

    public static TheoryData<int, int> Exports => Cases("exports");

    [Fact]
    public void The_vector_file_has_the_four_modes_of_the_suite()
    {
        Assert.Equal([0, 1, 2, 3], HpkeVectors.Vectors.Select(v => v.GetProperty("mode").GetInt32()).Order());
        Assert.All(HpkeVectors.Vectors, v =>
        {
            Assert.Equal(Hpke.KemId, v.GetProperty("kem_id").GetInt32());
            Assert.Equal(Hpke.KdfId, v.GetProperty("kdf_id").GetInt32());
            Assert.Equal(Hpke.AeadId, v.GetProperty("aead_id").GetInt32());
            Assert.Equal(6, v.GetProperty("encryptions").GetArrayLength());
            Assert.Equal(3, v.GetProperty("exports").GetArrayLength());
        });
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void DeriveKeyPair_reproduces_the_ephemeral_recipient_and_sender_keys(int mode)
    {
        var v = HpkeVectors.ForMode(mode);
        AssertKeyPair(v, "ikmE", "skEm", "pkEm");
        AssertKeyPair(v, "ikmR", "skRm", "pkRm");
        if (IsAuth(mode))
            AssertKeyPair(v, "ikmS", "skSm", "pkSm");
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Encap_and_Decap_give_the_vector_enc_and_shared_secret(int mode)
    {
        var v = HpkeVectors.ForMode(mode);
        var skS = IsAuth(mode) ? v.Hex("skSm") : [];
        var pkS = IsAuth(mode) ? v.Hex("pkSm") : [];

        var enc = new byte[32];
        var senderSecret = new byte[32];
        Dhkem.Encap(v.Hex("pkRm"), skS, v.Hex("skEm"), enc, senderSecret);
        Assert.Equal(v.Hex("enc"), enc);
        Assert.Equal(v.Hex("shared_secret"), senderSecret);

        var recipientSecret = new byte[32];
        Dhkem.Decap(v.Hex("enc"), v.Hex("skRm"), pkS, recipientSecret);
        Assert.Equal(v.Hex("shared_secret"), recipientSecret);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Key_schedule_gives_the_vector_key_base_nonce_and_exporter_secret(int mode)
    {
        var v = HpkeVectors.ForMode(mode);
        var key = new byte[16];
        var baseNonce = new byte[12];
        var exporterSecret = new byte[32];

        Hpke.KeySchedule((HpkeMode)mode, v.Hex("shared_secret"), v.Hex("info"), v.Hex("psk"), v.Hex("psk_id"), key, baseNonce, exporterSecret);

        Assert.Equal(v.Hex("key"), key);
        Assert.Equal(v.Hex("base_nonce"), baseNonce);
        Assert.Equal(v.Hex("exporter_secret"), exporterSecret);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Sender_setup_with_the_vector_ikmE_produces_the_vector_enc(int mode)
    {
        var v = HpkeVectors.ForMode(mode);
        using var sender = SetupSender(v, out var enc);
        Assert.Equal(v.Hex("enc"), enc);
        Assert.Equal(0UL, sender.SequenceNumber);
    }

    [Theory]
    [MemberData(nameof(Encryptions))]
    public void Encryption_matches_the_vector_nonce_and_ciphertext_and_opens(int mode, int index)
    {
        var v = HpkeVectors.ForMode(mode);
        var e = v.GetProperty("encryptions")[index];
        var sequenceNumber = (ulong)e.Number("sequence number");

        using var sender = SetupSender(v, out _);
        sender.SequenceNumber = sequenceNumber;
        var nonce = new byte[12];
        sender.ComputeNonce(sequenceNumber, nonce);
        Assert.Equal(e.Hex("nonce"), nonce);
        Assert.Equal(e.Hex("ct"), sender.Seal(e.Hex("aad"), e.Hex("pt")));
        Assert.Equal(sequenceNumber + 1, sender.SequenceNumber);

        using var recipient = SetupRecipient(v);
        recipient.SequenceNumber = sequenceNumber;
        Assert.Equal(e.Hex("pt"), recipient.Open(e.Hex("aad"), e.Hex("ct")));
        Assert.Equal(sequenceNumber + 1, recipient.SequenceNumber);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Advancing_contexts_one_message_at_a_time_follows_the_vector_sequence(int mode)
    {
        var v = HpkeVectors.ForMode(mode);
        var encryptions = v.GetProperty("encryptions").EnumerateArray().ToDictionary(e => (ulong)e.Number("sequence number"));
        using var sender = SetupSender(v, out _);
        using var recipient = SetupRecipient(v);

        for (ulong seq = 0; seq <= 256; seq++)
        {
            if (encryptions.TryGetValue(seq, out var e))
            {
                Assert.Equal(e.Hex("ct"), sender.Seal(e.Hex("aad"), e.Hex("pt")));
                Assert.Equal(e.Hex("pt"), recipient.Open(e.Hex("aad"), e.Hex("ct")));
            }
            else
            {
                var ct = sender.Seal([], []);
                Assert.Empty(recipient.Open([], ct));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Exports))]
    public void Export_matches_the_vector_on_both_sides(int mode, int index)
    {
        var v = HpkeVectors.ForMode(mode);
        var x = v.GetProperty("exports")[index];
        using var sender = SetupSender(v, out _);
        using var recipient = SetupRecipient(v);

        var expected = x.Hex("exported_value");
        Assert.Equal(expected, sender.Export(x.Hex("exporter_context"), x.Number("L")));
        Assert.Equal(expected, recipient.Export(x.Hex("exporter_context"), x.Number("L")));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Public_recipient_setup_opens_the_first_vector_ciphertext(int mode)
    {
        var v = HpkeVectors.ForMode(mode);
        var e = v.GetProperty("encryptions")[0];
        using var recipient = mode switch
        {
            0 => Hpke.SetupBaseRecipient(v.Hex("enc"), v.Hex("skRm"), v.Hex("info")),
            1 => Hpke.SetupPskRecipient(v.Hex("enc"), v.Hex("skRm"), v.Hex("info"), v.Hex("psk"), v.Hex("psk_id")),
            2 => Hpke.SetupAuthRecipient(v.Hex("enc"), v.Hex("skRm"), v.Hex("info"), v.Hex("pkSm")),
            _ => Hpke.SetupAuthPskRecipient(v.Hex("enc"), v.Hex("skRm"), v.Hex("info"), v.Hex("psk"), v.Hex("psk_id"), v.Hex("pkSm")),
        };
        Assert.Equal(e.Hex("pt"), recipient.Open(e.Hex("aad"), e.Hex("ct")));
    }

    private static TheoryData<int, int> Cases(string list)
    {
        var data = new TheoryData<int, int>();
        foreach (var v in HpkeVectors.Vectors)
        {
            for (var i = 0; i < v.GetProperty(list).GetArrayLength(); i++)
                data.Add(v.GetProperty("mode").GetInt32(), i);
        }
        return data;
    }

    private static bool IsAuth(int mode) => mode is 2 or 3;

    private static void AssertKeyPair(JsonElement v, string ikm, string sk, string pk)
    {
        var pair = X25519KeyPair.Derive(v.Hex(ikm));
        Assert.Equal(v.Hex(sk), pair.PrivateKey.ToArray());
        Assert.Equal(v.Hex(pk), pair.PublicKey.ToArray());
    }

    private static HpkeContext SetupSender(JsonElement v, out byte[] enc)
    {
        var mode = v.GetProperty("mode").GetInt32();
        return Hpke.SetupSender(
            (HpkeMode)mode, v.Hex("pkRm"), v.Hex("info"), v.Hex("psk"), v.Hex("psk_id"),
            IsAuth(mode) ? v.Hex("skSm") : [], v.Hex("ikmE"), out enc);
    }

    private static HpkeContext SetupRecipient(JsonElement v)
    {
        var mode = v.GetProperty("mode").GetInt32();
        return Hpke.SetupRecipient(
            (HpkeMode)mode, v.Hex("enc"), v.Hex("skRm"), v.Hex("info"), v.Hex("psk"), v.Hex("psk_id"),
            IsAuth(mode) ? v.Hex("pkSm") : []);
    }
}
