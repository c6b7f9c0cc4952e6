using System.Text;

namespace Sealpost.Crypto;

/// <summary>
/// What a signed-in device hands a new one while linking (the identity key, the new device's certificate, the pinned
/// contacts: the SDK's payload), sealed with HPKE base mode to the one-time link key of the <see cref="LinkCode"/>,
/// which the server never saw: the server relays it and cannot open it (docs/devices.md, step 4).
/// Sealed: <c>enc (32) || ciphertext</c>, with info <c>"sealpost/link/v1" || 0x00 || link id</c>.
/// </summary>
public static class LinkSecret
{
    /// <summary>64 KiB: far more than an identity key, a certificate and a few hundred pinned contacts take.</summary>
    public const int MaxPayloadSize = 64 * 1024;

    public static byte[] Seal(LinkCode code, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (payload.Length > MaxPayloadSize) throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, $"A link secret carries at most {MaxPayloadSize} bytes.");
        var (enc, ciphertext) = Hpke.SealBase(code.LinkPublicKey, Info(code.LinkId), [], payload);
        return [.. enc, .. ciphertext];
    }

    /// <summary>Opens what the signed-in device sealed for the link <paramref name="linkId"/>, with the link key's private half.</summary>
    public static byte[] Open(ReadOnlySpan<byte> sealedSecret, string linkId, ReadOnlySpan<byte> linkPrivateKey)
    {
        if (sealedSecret.Length < Hpke.EncapsulatedKeySize + Hpke.TagSize || sealedSecret.Length > Hpke.EncapsulatedKeySize + MaxPayloadSize + Hpke.TagSize)
            throw new CryptoException("This is not a link secret: its length is wrong.");
        return Hpke.OpenBase(sealedSecret[..Hpke.EncapsulatedKeySize], linkPrivateKey, Info(linkId), [], sealedSecret[Hpke.EncapsulatedKeySize..]);
    }

    private static byte[] Info(string linkId) => [.. "sealpost/link/v1\0"u8, .. Encoding.ASCII.GetBytes(linkId)];
}
