using System.Security.Cryptography;

namespace Sealpost.Crypto;

/// <summary>A raw 32-byte X25519 private key and its 32-byte public key, as used by HPKE and envelopes.</summary>
public sealed class X25519KeyPair
{
    public const int KeySize = Dhkem.KeySize;

    private readonly byte[] _privateKey;
    private readonly byte[] _publicKey;

    private X25519KeyPair(byte[] privateKey, byte[] publicKey)
    {
        _privateKey = privateKey;
        _publicKey = publicKey;
    }

    public ReadOnlySpan<byte> PrivateKey => _privateKey;

    public ReadOnlySpan<byte> PublicKey => _publicKey;

    public static X25519KeyPair Generate()
    {
        // Any 32 random bytes are an X25519 private key; clamping happens inside the scalar multiplication.
        return FromPrivateKey(RandomNumberGenerator.GetBytes(KeySize));
    }

    public static X25519KeyPair FromPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        var publicKey = new byte[KeySize];
        Dhkem.PublicKeyOf(privateKey, publicKey, nameof(privateKey));
        return new X25519KeyPair(privateKey.ToArray(), publicKey);
    }

    /// <summary>RFC 9180 §7.1.3 DeriveKeyPair: the same <paramref name="ikm"/> always gives the same key pair.</summary>
    public static X25519KeyPair Derive(ReadOnlySpan<byte> ikm)
    {
        var privateKey = new byte[KeySize];
        var publicKey = new byte[KeySize];
        Dhkem.DeriveKeyPair(ikm, privateKey, publicKey);
        return new X25519KeyPair(privateKey, publicKey);
    }

    public override string ToString() => $"X25519 key pair, public key {Convert.ToHexStringLower(_publicKey)}";
}
