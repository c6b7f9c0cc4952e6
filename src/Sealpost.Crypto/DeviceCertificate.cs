using System.Buffers.Binary;

namespace Sealpost.Crypto;

/// <summary>One device's X25519 key as the directory lists it: whose, which device, which of its keys.</summary>
public sealed record DeviceKey(string Username, uint DeviceId, uint KeyId, byte[] PublicKey);

/// <summary>
/// The identity key's signature over a device key (docs/devices.md, "Certificates"): a client seals to a device only
/// if its certificate verifies under the identity key it pinned, so a device the server adds is never trusted.
/// </summary>
public static class DeviceCertificate
{
    private static ReadOnlySpan<byte> Label => "sealpost/device/v1\0"u8;

    public static byte[] Sign(IdentityKey identity, DeviceKey device)
    {
        ArgumentNullException.ThrowIfNull(identity);
        return identity.Sign(SignedBytes(device));
    }

    /// <summary>Whether <paramref name="certificate"/> vouches for <paramref name="device"/> under the identity key; anything malformed is false.</summary>
    public static bool Verify(ReadOnlySpan<byte> identityPublicKey, DeviceKey device, ReadOnlySpan<byte> certificate) =>
        device is not null && Username.IsValid(device.Username) && device.PublicKey?.Length == X25519KeyPair.KeySize
        && IdentityKey.Verify(identityPublicKey, SignedBytes(device), certificate);

    /// <summary>"sealpost/device/v1" || 0x00 || len(username) || username || I2OSP(device id, 4) || I2OSP(key id, 4) || public key.</summary>
    internal static byte[] SignedBytes(DeviceKey device)
    {
        ArgumentNullException.ThrowIfNull(device);
        Username.Require(device.Username, nameof(device));
        if (device.PublicKey?.Length != X25519KeyPair.KeySize)
            throw new ArgumentException($"A device key is {X25519KeyPair.KeySize} bytes.", nameof(device));
        var bytes = new byte[Label.Length + 1 + device.Username.Length + 8 + X25519KeyPair.KeySize];
        var span = bytes.AsSpan();
        Label.CopyTo(span);
        var at = Label.Length + Username.WriteLengthPrefixed(device.Username, span[Label.Length..]);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], device.DeviceId);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], device.KeyId);
        device.PublicKey.CopyTo(span[(at + 8)..]);
        return bytes;
    }
}
