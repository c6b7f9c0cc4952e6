using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Sealpost.Crypto;

/// <summary>RFC 9180 §4 LabeledExtract / LabeledExpand over HKDF-SHA256.</summary>
internal static class LabeledKdf
{
    public const int HashLength = 32;
    private const int StackLimit = 256;

    private static ReadOnlySpan<byte> Version => "HPKE-v1"u8;

    public static void Extract(
        ReadOnlySpan<byte> suiteId, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> label, ReadOnlySpan<byte> ikm, Span<byte> prk)
    {
        var length = Version.Length + suiteId.Length + label.Length + ikm.Length;
        byte[]? rented = null;
        var labeledIkm = length <= StackLimit
            ? stackalloc byte[StackLimit]
            : rented = ArrayPool<byte>.Shared.Rent(length);
        labeledIkm = labeledIkm[..length];
        try
        {
            Concat(labeledIkm, Version, suiteId, label, ikm);
            HKDF.Extract(HashAlgorithmName.SHA256, labeledIkm, salt, prk);
        }
        finally
        {
            // The input is a Diffie-Hellman output or a PSK.
            CryptographicOperations.ZeroMemory(labeledIkm);
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public static void Expand(
        ReadOnlySpan<byte> suiteId, ReadOnlySpan<byte> prk, ReadOnlySpan<byte> label, ReadOnlySpan<byte> info, Span<byte> output)
    {
        if (output.Length > 255 * HashLength)
            throw new ArgumentOutOfRangeException(nameof(output), output.Length, $"HKDF-SHA256 can produce at most {255 * HashLength} bytes.");

        var length = 2 + Version.Length + suiteId.Length + label.Length + info.Length;
        byte[]? rented = null;
        var labeledInfo = length <= StackLimit
            ? stackalloc byte[StackLimit]
            : rented = ArrayPool<byte>.Shared.Rent(length);
        labeledInfo = labeledInfo[..length];
        try
        {
            BinaryPrimitives.WriteUInt16BigEndian(labeledInfo, (ushort)output.Length);
            Concat(labeledInfo[2..], Version, suiteId, label, info);
            HKDF.Expand(HashAlgorithmName.SHA256, prk, output, labeledInfo);
        }
        finally
        {
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static void Concat(Span<byte> destination, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c, ReadOnlySpan<byte> d)
    {
        a.CopyTo(destination);
        destination = destination[a.Length..];
        b.CopyTo(destination);
        destination = destination[b.Length..];
        c.CopyTo(destination);
        d.CopyTo(destination[c.Length..]);
    }
}
