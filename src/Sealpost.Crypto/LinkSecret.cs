namespace Sealpost.Crypto;

/// <summary>
/// What a signed-in device hands a new one while linking (the identity key, the new device's certificate, the pinned
/// contacts: the SDK's payload), sealed with HPKE base mode to the one-time link key of the <see cref="LinkCode"/>,
/// which the server never saw: the server relays it and cannot open it (docs/devices.md, "The link secret").
/// Sealed: <c>enc (32) || ciphertext</c>, with info
/// <c>"sealpost/link/v2" || 0x00 || len(username) || username || len(link id) || link id</c> and empty associated data.
/// </summary>
public static class LinkSecret
{
    /// <summary>64 KiB: far more than an identity key, a certificate and a few hundred pinned contacts take.</summary>
    public const int MaxPayloadSize = 64 * 1024;

    public static byte[] Seal(LinkCode code, ReadOnlySpan<byte> payload) => Seal(code, payload, []);

    /// <summary>With a fixed <paramref name="ikmE"/> only to reproduce the worked example; empty draws a fresh ephemeral key.</summary>
    internal static byte[] Seal(LinkCode code, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> ikmE)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (payload.Length > MaxPayloadSize) throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, $"A link secret carries at most {MaxPayloadSize} bytes.");
        var sealedSecret = new byte[Hpke.EncapsulatedKeySize + payload.Length + Hpke.TagSize];
        using var context = Hpke.SetupSender(HpkeMode.Base, code.LinkPublicKey, Info(code.Username, code.LinkId), [], [], [], ikmE, sealedSecret.AsSpan(0, Hpke.EncapsulatedKeySize));
        context.Seal([], payload).CopyTo(sealedSecret, Hpke.EncapsulatedKeySize);
        return sealedSecret;
    }

    /// <summary>Opens what the signed-in device sealed for the link <paramref name="linkId"/> to <paramref name="username"/>'s account, with the link key's private half.</summary>
    public static byte[] Open(ReadOnlySpan<byte> sealedSecret, string username, string linkId, ReadOnlySpan<byte> linkPrivateKey)
    {
        if (sealedSecret.Length < Hpke.EncapsulatedKeySize + Hpke.TagSize || sealedSecret.Length > Hpke.EncapsulatedKeySize + MaxPayloadSize + Hpke.TagSize)
            throw new CryptoException("This is not a link secret: its length is wrong.");
        return Hpke.OpenBase(sealedSecret[..Hpke.EncapsulatedKeySize], linkPrivateKey, Info(username, linkId), [], sealedSecret[Hpke.EncapsulatedKeySize..]);
    }

    internal static byte[] Info(string username, string linkId)
    {
        Username.Require(username, nameof(username));
        if (linkId is not { Length: > 0 and <= 255 } || !System.Text.Ascii.IsValid(linkId)) throw new ArgumentException("A link id is 1 to 255 ASCII characters.", nameof(linkId));
        var label = "sealpost/link/v2\0"u8;
        var info = new byte[label.Length + 1 + username.Length + 1 + linkId.Length];
        label.CopyTo(info);
        var at = label.Length + Username.WriteLengthPrefixed(username, info.AsSpan(label.Length));
        info[at] = (byte)linkId.Length;
        System.Text.Encoding.ASCII.GetBytes(linkId, info.AsSpan(at + 1));
        return info;
    }
}
