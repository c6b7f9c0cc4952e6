using NSec.Cryptography;

namespace Sealpost.Crypto;

/// <summary>
/// An account's identity key: an Ed25519 key pair whose private half lives only on the account's devices, and which
/// certifies each device's X25519 key (<see cref="DeviceCertificate"/>). Contacts pin its public half (docs/devices.md).
/// </summary>
public sealed class IdentityKey : IDisposable
{
    public const int PrivateKeySize = 32;
    public const int PublicKeySize = 32;
    public const int SignatureSize = 64;

    private static readonly SignatureAlgorithm Ed25519 = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private IdentityKey(Key key)
    {
        _key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    /// <summary>The 32-byte Ed25519 public key, as the directory publishes it.</summary>
    public byte[] PublicKey { get; }

    public static IdentityKey Generate() => new(Key.Create(Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    /// <summary>From the 32-byte private key (the Ed25519 seed) that <see cref="ExportPrivateKey"/> gave.</summary>
    public static IdentityKey FromPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != PrivateKeySize)
            throw new CryptoException($"An identity private key is {PrivateKeySize} bytes; got {privateKey.Length}.");
        var exportable = new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        return new(Key.Import(Ed25519, privateKey, KeyBlobFormat.RawPrivateKey, in exportable));
    }

    /// <summary>The private key, for a key file or a link secret: never for the server.</summary>
    public byte[] ExportPrivateKey() => _key.Export(KeyBlobFormat.RawPrivateKey);

    public byte[] Sign(ReadOnlySpan<byte> data) => Ed25519.Sign(_key, data);

    /// <summary>Whether <paramref name="signature"/> is this public key's over <paramref name="data"/>; malformed input is simply false.</summary>
    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature) =>
        publicKey.Length == PublicKeySize && signature.Length == SignatureSize
        && NSec.Cryptography.PublicKey.TryImport(Ed25519, publicKey, KeyBlobFormat.RawPublicKey, out var key)
        && Ed25519.Verify(key!, data, signature);

    public void Dispose() => _key.Dispose();
}
