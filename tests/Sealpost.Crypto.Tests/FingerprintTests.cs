using System.Security.Cryptography;

namespace Sealpost.Crypto.Tests;

public class FingerprintTests
{
    private readonly X25519KeyPair _alice = X25519KeyPair.Generate();
    private readonly X25519KeyPair _bob = X25519KeyPair.Generate();

    [Fact]
    public void A_fingerprint_is_eight_groups_of_four_hex_digits()
    {
        var fingerprint = Fingerprint.Of(_alice.PublicKey);

        Assert.Matches("^[0-9a-f]{4}( [0-9a-f]{4}){7}$", fingerprint);
        Assert.Equal(fingerprint, Fingerprint.Of(_alice.PublicKey));
        Assert.NotEqual(fingerprint, Fingerprint.Of(_bob.PublicKey));
    }

    [Fact]
    public void A_fingerprint_is_the_first_half_of_the_keys_sha256_as_the_users_service_shows_it()
    {
        var hex = Convert.ToHexStringLower(SHA256.HashData(_alice.PublicKey)[..16]);

        Assert.Equal(string.Join(' ', hex.Chunk(4).Select(c => new string(c))), Fingerprint.Of(_alice.PublicKey));
    }

    [Fact]
    public void A_safety_number_is_twelve_groups_of_five_digits()
    {
        Assert.Matches("^[0-9]{5}( [0-9]{5}){11}$", Fingerprint.SafetyNumber("alice", _alice.PublicKey, "bob", _bob.PublicKey));
    }

    [Fact]
    public void Both_sides_compute_the_same_safety_number()
    {
        Assert.Equal(
            Fingerprint.SafetyNumber("alice", _alice.PublicKey, "bob", _bob.PublicKey),
            Fingerprint.SafetyNumber("bob", _bob.PublicKey, "alice", _alice.PublicKey));
    }

    [Fact]
    public void The_safety_number_changes_when_either_key_changes()
    {
        var before = Fingerprint.SafetyNumber("alice", _alice.PublicKey, "bob", _bob.PublicKey);
        var newKey = X25519KeyPair.Generate();

        Assert.NotEqual(before, Fingerprint.SafetyNumber("alice", newKey.PublicKey, "bob", _bob.PublicKey));
        Assert.NotEqual(before, Fingerprint.SafetyNumber("alice", _alice.PublicKey, "bob", newKey.PublicKey));
        Assert.NotEqual(before, Fingerprint.SafetyNumber("alice", _alice.PublicKey, "carol", _bob.PublicKey));
    }

    [Fact]
    public void The_unchanged_half_stays_so_people_can_see_whose_key_changed()
    {
        var before = Fingerprint.SafetyNumber("alice", _alice.PublicKey, "bob", _bob.PublicKey).Split(' ');
        var after = Fingerprint.SafetyNumber("alice", _alice.PublicKey, "bob", X25519KeyPair.Generate().PublicKey).Split(' ');

        var aliceHalf = new[] { before[..6], before[6..] }.Single(half => after[..6].SequenceEqual(half) || after[6..].SequenceEqual(half));
        Assert.Equal(6, aliceHalf.Length);
    }

    [Fact]
    public void Bad_inputs_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Fingerprint.Of(new byte[31]));
        Assert.Throws<ArgumentException>(() => Fingerprint.SafetyNumber("ALICE", _alice.PublicKey, "bob", _bob.PublicKey));
        Assert.Throws<ArgumentException>(() => Fingerprint.SafetyNumber("alice", _alice.PublicKey, "bob", new byte[33]));
    }
}
