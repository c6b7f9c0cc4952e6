using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Sealpost.Crypto;

/// <summary>
/// Short strings people compare out of band to check they hold the right public keys.
/// The exact computation is in docs/envelope.md.
/// </summary>
public static class Fingerprint
{
    /// <summary>Iterations of SHA-512 per safety-number half, as Signal does, to slow a search for a colliding key.</summary>
    public const int SafetyNumberIterations = 5200;

    private const int FingerprintBytes = 16;
    private const int DigitGroupsPerHalf = 6;
    // 26 bytes of "sealpost/safety-number/v1\0", a length-prefixed username, a public key.
    private const int MaxPrefixSize = 26 + 1 + Username.MaxLength + X25519KeyPair.KeySize;

    private static ReadOnlySpan<byte> SafetyNumberLabel => "sealpost/safety-number/v1\0"u8;

    /// <summary>
    /// The first 16 bytes of SHA-256(public key) as 8 groups of 4 lower-case hex digits, e.g. <c>"3f2a 9c01 …"</c>:
    /// the same fingerprint the users service shows on an account record, so people can compare the two.
    /// </summary>
    public static string Of(ReadOnlySpan<byte> publicKey)
    {
        Dhkem.RequireKey(publicKey, nameof(publicKey), "public");

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(publicKey, hash);

        var text = new StringBuilder(FingerprintBytes * 2 + FingerprintBytes / 2);
        for (var i = 0; i < FingerprintBytes; i += 2)
        {
            if (i > 0)
                text.Append(' ');
            text.Append(Convert.ToHexStringLower(hash.Slice(i, 2)));
        }
        return text.ToString();
    }

    /// <summary>
    /// 60 digits in 12 groups of 5, the same whichever of the two people computes it: each person's half is
    /// 30 digits from their own username and key, and the two halves are sorted before joining.
    /// </summary>
    public static string SafetyNumber(string userA, ReadOnlySpan<byte> keyA, string userB, ReadOnlySpan<byte> keyB)
    {
        var a = Half(userA, keyA, nameof(userA), nameof(keyA));
        var b = Half(userB, keyB, nameof(userB), nameof(keyB));
        var (first, second) = string.CompareOrdinal(a, b) <= 0 ? (a, b) : (b, a);
        return first + " " + second;
    }

    /// <summary>
    /// h = SHA-512(label || 0x00 || len || username || key), then h = SHA-512(h || key) 5200 times;
    /// each of the first six 5-byte chunks of h, read big-endian, mod 100000, is a group of five digits.
    /// </summary>
    private static string Half(string username, ReadOnlySpan<byte> publicKey, string usernameParam, string keyParam)
    {
        Username.Require(username, usernameParam);
        Dhkem.RequireKey(publicKey, keyParam, "public");

        Span<byte> input = stackalloc byte[MaxPrefixSize];
        input = input[..Prefix(SafetyNumberLabel, username, publicKey, input)];
        Span<byte> chain = stackalloc byte[SHA512.HashSizeInBytes + X25519KeyPair.KeySize];
        var hash = chain[..SHA512.HashSizeInBytes];
        SHA512.HashData(input, hash);
        publicKey.CopyTo(chain[SHA512.HashSizeInBytes..]);
        Span<byte> next = stackalloc byte[SHA512.HashSizeInBytes];
        for (var i = 0; i < SafetyNumberIterations; i++)
        {
            SHA512.HashData(chain, next);
            next.CopyTo(hash);
        }

        var text = new StringBuilder(DigitGroupsPerHalf * 6);
        Span<byte> chunk = stackalloc byte[sizeof(ulong)];
        for (var i = 0; i < DigitGroupsPerHalf; i++)
        {
            chunk.Clear();
            hash.Slice(5 * i, 5).CopyTo(chunk[3..]);
            if (i > 0)
                text.Append(' ');
            text.Append((BinaryPrimitives.ReadUInt64BigEndian(chunk) % 100_000).ToString("D5", CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }

    private static int Prefix(ReadOnlySpan<byte> label, string username, ReadOnlySpan<byte> publicKey, Span<byte> destination)
    {
        label.CopyTo(destination);
        var written = label.Length + Username.WriteLengthPrefixed(username, destination[label.Length..]);
        publicKey.CopyTo(destination[written..]);
        return written + publicKey.Length;
    }
}
