using System.Security.Cryptography;
using NSec.Cryptography;

namespace Sealpost.Crypto;

/// <summary>DHKEM(X25519, HKDF-SHA256), RFC 9180 §4.1 and §7.1.</summary>
internal static class Dhkem
{
    public const int KeySize = 32;
    public const int SharedSecretSize = 32;

    private static readonly KeyAgreementAlgorithm Algorithm = KeyAgreementAlgorithm.X25519;

    // "KEM" || I2OSP(0x0020, 2)
    private static ReadOnlySpan<byte> SuiteId => [0x4B, 0x45, 0x4D, 0x00, 0x20];

    /// <summary>RFC 9180 §7.1.3 DeriveKeyPair for X25519: the private key is expanded from <paramref name="ikm"/>.</summary>
    public static void DeriveKeyPair(ReadOnlySpan<byte> ikm, Span<byte> privateKey, Span<byte> publicKey)
    {
        if (ikm.Length < KeySize)
            throw new ArgumentException($"DeriveKeyPair needs at least {KeySize} bytes of input keying material; got {ikm.Length}.", nameof(ikm));

        Span<byte> prk = stackalloc byte[LabeledKdf.HashLength];
        LabeledKdf.Extract(SuiteId, [], "dkp_prk"u8, ikm, prk);
        LabeledKdf.Expand(SuiteId, prk, "sk"u8, [], privateKey);
        CryptographicOperations.ZeroMemory(prk);
        using var key = ImportPrivateKey(privateKey, nameof(ikm));
        ExportPublicKey(key, publicKey);
    }

    public static void PublicKeyOf(ReadOnlySpan<byte> privateKey, Span<byte> publicKey, string paramName)
    {
        using var key = ImportPrivateKey(privateKey, paramName);
        ExportPublicKey(key, publicKey);
    }

    /// <summary>
    /// Encap (when <paramref name="skS"/> is empty) or AuthEncap, with the ephemeral private key given:
    /// the caller draws it at random or derives it from a fixed ikm for test vectors.
    /// </summary>
    public static void Encap(
        ReadOnlySpan<byte> pkR, ReadOnlySpan<byte> skS, ReadOnlySpan<byte> skE, Span<byte> enc, Span<byte> sharedSecret)
    {
        RequireKey(pkR, nameof(pkR), "public");
        var auth = !skS.IsEmpty;
        if (auth)
            RequireKey(skS, nameof(skS), "private");

        // kem_context = enc || pkR [|| pkS]
        Span<byte> kemContext = stackalloc byte[3 * KeySize];
        kemContext = kemContext[..(auth ? 3 * KeySize : 2 * KeySize)];
        Span<byte> dh = stackalloc byte[2 * KeySize];
        dh = dh[..(auth ? 2 * KeySize : KeySize)];
        try
        {
            using (var ephemeral = ImportPrivateKey(skE, nameof(skE)))
            {
                ExportPublicKey(ephemeral, enc);
                Agree(ephemeral, pkR, dh[..KeySize], nameof(pkR));
            }
            enc.CopyTo(kemContext);
            pkR.CopyTo(kemContext[KeySize..]);
            if (auth)
            {
                using var sender = ImportPrivateKey(skS, nameof(skS));
                Agree(sender, pkR, dh[KeySize..], nameof(pkR));
                ExportPublicKey(sender, kemContext[(2 * KeySize)..]);
            }
            ExtractAndExpand(dh, kemContext, sharedSecret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dh);
        }
    }

    /// <summary>Decap (when <paramref name="pkS"/> is empty) or AuthDecap.</summary>
    public static void Decap(ReadOnlySpan<byte> enc, ReadOnlySpan<byte> skR, ReadOnlySpan<byte> pkS, Span<byte> sharedSecret)
    {
        RequireKey(enc, nameof(enc), "encapsulated");
        RequireKey(skR, nameof(skR), "private");
        var auth = !pkS.IsEmpty;
        if (auth)
            RequireKey(pkS, nameof(pkS), "public");

        Span<byte> kemContext = stackalloc byte[3 * KeySize];
        kemContext = kemContext[..(auth ? 3 * KeySize : 2 * KeySize)];
        Span<byte> dh = stackalloc byte[2 * KeySize];
        dh = dh[..(auth ? 2 * KeySize : KeySize)];
        try
        {
            using var recipient = ImportPrivateKey(skR, nameof(skR));
            Agree(recipient, enc, dh[..KeySize], nameof(enc));
            if (auth)
                Agree(recipient, pkS, dh[KeySize..], nameof(pkS));
            enc.CopyTo(kemContext);
            ExportPublicKey(recipient, kemContext[KeySize..]);
            if (auth)
                pkS.CopyTo(kemContext[(2 * KeySize)..]);
            ExtractAndExpand(dh, kemContext, sharedSecret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dh);
        }
    }

    public static void RequireKey(ReadOnlySpan<byte> key, string paramName, string kind)
    {
        if (key.Length != KeySize)
            throw new ArgumentException($"An X25519 {kind} key is {KeySize} bytes; got {key.Length}.", paramName);
    }

    private static void ExtractAndExpand(ReadOnlySpan<byte> dh, ReadOnlySpan<byte> kemContext, Span<byte> sharedSecret)
    {
        Span<byte> prk = stackalloc byte[LabeledKdf.HashLength];
        LabeledKdf.Extract(SuiteId, [], "eae_prk"u8, dh, prk);
        LabeledKdf.Expand(SuiteId, prk, "shared_secret"u8, kemContext, sharedSecret[..SharedSecretSize]);
        CryptographicOperations.ZeroMemory(prk);
    }

    private static string Describe(string paramName) => paramName switch
    {
        "pkR" => "The recipient's public key",
        "pkS" => "The sender's public key",
        "enc" => "The message's ephemeral key (enc)",
        _ => $"The key in '{paramName}'",
    };

    private static Key ImportPrivateKey(ReadOnlySpan<byte> privateKey, string paramName)
    {
        RequireKey(privateKey, paramName, "private");
        return Key.Import(Algorithm, privateKey, KeyBlobFormat.RawPrivateKey);
    }

    private static void ExportPublicKey(Key key, Span<byte> publicKey)
    {
        if (!key.PublicKey.TryExport(KeyBlobFormat.RawPublicKey, publicKey, out var written) || written != KeySize)
            throw new InvalidOperationException("Could not export an X25519 public key.");
    }

    private static void Agree(Key privateKey, ReadOnlySpan<byte> publicKey, Span<byte> dh, string paramName)
    {
        var peer = PublicKey.Import(Algorithm, publicKey, KeyBlobFormat.RawPublicKey);
        var creation = new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        // libsodium refuses an all-zero result, which is what a small-order point (all-zero key included) gives:
        // RFC 9180 §7.1.4 requires rejecting it, or the "shared" secret would be known to everyone.
        using var secret = Algorithm.Agree(privateKey, peer, in creation)
            ?? throw new CryptoException(
                $"{Describe(paramName)} is not a usable X25519 public key: it is a small-order point (for example all zeros), so no secret can be agreed with it.");
        if (!secret.TryExport(SharedSecretBlobFormat.RawSharedSecret, dh, out var written) || written != KeySize)
            throw new InvalidOperationException("Could not export an X25519 shared secret.");
    }
}
