using System.Security.Cryptography;

namespace Sealpost.Crypto;

/// <summary>
/// HPKE (RFC 9180) with the one suite Sealpost uses: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM.
/// Keys are raw 32-byte X25519 keys. A message that cannot be opened throws <see cref="CryptoException"/>.
/// </summary>
public static class Hpke
{
    public const ushort KemId = 0x0020;
    public const ushort KdfId = 0x0001;
    public const ushort AeadId = 0x0001;
    public const int EncapsulatedKeySize = Dhkem.KeySize;
    public const int TagSize = HpkeContext.TagSize;

    /// <summary>RFC 9180 §5.1.2: a PSK must carry at least 32 bytes of entropy.</summary>
    public const int MinPskSize = 32;

    // "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)
    internal static ReadOnlySpan<byte> SuiteId => [0x48, 0x50, 0x4B, 0x45, 0x00, 0x20, 0x00, 0x01, 0x00, 0x01];

    public static HpkeContext SetupBaseSender(ReadOnlySpan<byte> pkR, ReadOnlySpan<byte> info, out byte[] enc) =>
        SetupSender(HpkeMode.Base, pkR, info, [], [], [], [], out enc);

    public static HpkeContext SetupBaseRecipient(ReadOnlySpan<byte> enc, ReadOnlySpan<byte> skR, ReadOnlySpan<byte> info) =>
        SetupRecipient(HpkeMode.Base, enc, skR, info, [], [], []);

    public static HpkeContext SetupPskSender(
        ReadOnlySpan<byte> pkR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> pskId, out byte[] enc) =>
        SetupSender(HpkeMode.Psk, pkR, info, psk, pskId, [], [], out enc);

    public static HpkeContext SetupPskRecipient(
        ReadOnlySpan<byte> enc, ReadOnlySpan<byte> skR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> pskId) =>
        SetupRecipient(HpkeMode.Psk, enc, skR, info, psk, pskId, []);

    /// <summary>Auth mode: the recipient learns that the sender holds <paramref name="skS"/>.</summary>
    public static HpkeContext SetupAuthSender(
        ReadOnlySpan<byte> pkR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> skS, out byte[] enc) =>
        SetupSender(HpkeMode.Auth, pkR, info, [], [], skS, [], out enc);

    public static HpkeContext SetupAuthRecipient(
        ReadOnlySpan<byte> enc, ReadOnlySpan<byte> skR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> pkS) =>
        SetupRecipient(HpkeMode.Auth, enc, skR, info, [], [], pkS);

    public static HpkeContext SetupAuthPskSender(
        ReadOnlySpan<byte> pkR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> pskId,
        ReadOnlySpan<byte> skS, out byte[] enc) =>
        SetupSender(HpkeMode.AuthPsk, pkR, info, psk, pskId, skS, [], out enc);

    public static HpkeContext SetupAuthPskRecipient(
        ReadOnlySpan<byte> enc, ReadOnlySpan<byte> skR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk,
        ReadOnlySpan<byte> pskId, ReadOnlySpan<byte> pkS) =>
        SetupRecipient(HpkeMode.AuthPsk, enc, skR, info, psk, pskId, pkS);

    public static (byte[] Enc, byte[] Ciphertext) SealBase(
        ReadOnlySpan<byte> pkR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> aad, ReadOnlySpan<byte> plaintext)
    {
        using var context = SetupBaseSender(pkR, info, out var enc);
        return (enc, context.Seal(aad, plaintext));
    }

    public static byte[] OpenBase(
        ReadOnlySpan<byte> enc, ReadOnlySpan<byte> skR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> aad, ReadOnlySpan<byte> ciphertext)
    {
        using var context = SetupBaseRecipient(enc, skR, info);
        return context.Open(aad, ciphertext);
    }

    public static (byte[] Enc, byte[] Ciphertext) SealAuth(
        ReadOnlySpan<byte> pkR, ReadOnlySpan<byte> skS, ReadOnlySpan<byte> info, ReadOnlySpan<byte> aad, ReadOnlySpan<byte> plaintext)
    {
        using var context = SetupAuthSender(pkR, info, skS, out var enc);
        return (enc, context.Seal(aad, plaintext));
    }

    public static byte[] OpenAuth(
        ReadOnlySpan<byte> enc, ReadOnlySpan<byte> skR, ReadOnlySpan<byte> pkS, ReadOnlySpan<byte> info,
        ReadOnlySpan<byte> aad, ReadOnlySpan<byte> ciphertext)
    {
        using var context = SetupAuthRecipient(enc, skR, info, pkS);
        return context.Open(aad, ciphertext);
    }

    /// <summary>An empty <c>ikmE</c> draws a fresh random ephemeral key; a fixed one only reproduces test vectors.</summary>
    internal static HpkeContext SetupSender(
        HpkeMode mode, ReadOnlySpan<byte> pkR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> pskId,
        ReadOnlySpan<byte> skS, ReadOnlySpan<byte> ikmE, out byte[] enc)
    {
        enc = new byte[EncapsulatedKeySize];
        return SetupSender(mode, pkR, info, psk, pskId, skS, ikmE, enc);
    }

    internal static HpkeContext SetupSender(
        HpkeMode mode, ReadOnlySpan<byte> pkR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> pskId,
        ReadOnlySpan<byte> skS, ReadOnlySpan<byte> ikmE, Span<byte> enc)
    {
        VerifyInputs(mode, psk, pskId, skS, "skS", "private");
        Span<byte> skE = stackalloc byte[Dhkem.KeySize];
        Span<byte> sharedSecret = stackalloc byte[Dhkem.SharedSecretSize];
        try
        {
            if (ikmE.IsEmpty)
                RandomNumberGenerator.Fill(skE);
            else
                Dhkem.DeriveKeyPair(ikmE, skE, stackalloc byte[Dhkem.KeySize]);
            Dhkem.Encap(pkR, skS, skE, enc, sharedSecret);
            return CreateContext(mode, sharedSecret, info, psk, pskId, isSender: true);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(skE);
            CryptographicOperations.ZeroMemory(sharedSecret);
        }
    }

    internal static HpkeContext SetupRecipient(
        HpkeMode mode, ReadOnlySpan<byte> enc, ReadOnlySpan<byte> skR, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk,
        ReadOnlySpan<byte> pskId, ReadOnlySpan<byte> pkS)
    {
        VerifyInputs(mode, psk, pskId, pkS, "pkS", "public");
        Span<byte> sharedSecret = stackalloc byte[Dhkem.SharedSecretSize];
        try
        {
            Dhkem.Decap(enc, skR, pkS, sharedSecret);
            return CreateContext(mode, sharedSecret, info, psk, pskId, isSender: false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
        }
    }

    /// <summary>RFC 9180 §5.1 KeySchedule, minus building the context object.</summary>
    internal static void KeySchedule(
        HpkeMode mode, ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> pskId,
        Span<byte> key, Span<byte> baseNonce, Span<byte> exporterSecret)
    {
        const int hashLength = LabeledKdf.HashLength;
        // key_schedule_context = mode || psk_id_hash || info_hash
        Span<byte> context = stackalloc byte[1 + 2 * hashLength];
        context[0] = (byte)mode;
        LabeledKdf.Extract(SuiteId, [], "psk_id_hash"u8, pskId, context.Slice(1, hashLength));
        LabeledKdf.Extract(SuiteId, [], "info_hash"u8, info, context.Slice(1 + hashLength, hashLength));

        Span<byte> secret = stackalloc byte[hashLength];
        LabeledKdf.Extract(SuiteId, sharedSecret, "secret"u8, psk, secret);
        LabeledKdf.Expand(SuiteId, secret, "key"u8, context, key[..HpkeContext.KeySize]);
        LabeledKdf.Expand(SuiteId, secret, "base_nonce"u8, context, baseNonce[..HpkeContext.NonceSize]);
        LabeledKdf.Expand(SuiteId, secret, "exp"u8, context, exporterSecret[..HpkeContext.ExporterSecretSize]);
        CryptographicOperations.ZeroMemory(secret);
    }

    private static HpkeContext CreateContext(
        HpkeMode mode, ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> pskId,
        bool isSender)
    {
        Span<byte> key = stackalloc byte[HpkeContext.KeySize];
        Span<byte> baseNonce = stackalloc byte[HpkeContext.NonceSize];
        Span<byte> exporterSecret = stackalloc byte[HpkeContext.ExporterSecretSize];
        try
        {
            KeySchedule(mode, sharedSecret, info, psk, pskId, key, baseNonce, exporterSecret);
            return new HpkeContext(key, baseNonce, exporterSecret, isSender);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(exporterSecret);
        }
    }

    private static void VerifyInputs(
        HpkeMode mode, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> pskId, ReadOnlySpan<byte> senderKey, string senderKeyName, string senderKeyKind)
    {
        var usesPsk = mode is HpkeMode.Psk or HpkeMode.AuthPsk;
        var usesAuth = mode is HpkeMode.Auth or HpkeMode.AuthPsk;
        if (usesPsk)
        {
            if (psk.Length < MinPskSize)
                throw new ArgumentException($"A PSK must be at least {MinPskSize} bytes (RFC 9180 §5.1.2); got {psk.Length}.", nameof(psk));
            if (pskId.IsEmpty)
                throw new ArgumentException("A PSK needs a non-empty PSK id.", nameof(pskId));
        }
        else if (!psk.IsEmpty || !pskId.IsEmpty)
        {
            throw new ArgumentException("A PSK and PSK id are used only in the psk and auth_psk modes.", nameof(psk));
        }

        if (usesAuth)
            Dhkem.RequireKey(senderKey, senderKeyName, senderKeyKind);
        else if (!senderKey.IsEmpty)
            throw new ArgumentException("A sender key is used only in the auth and auth_psk modes.", senderKeyName);
    }
}

/// <summary>RFC 9180 §5 mode identifiers; the byte goes into the key schedule context.</summary>
internal enum HpkeMode : byte
{
    Base = 0x00,
    Psk = 0x01,
    Auth = 0x02,
    AuthPsk = 0x03,
}
