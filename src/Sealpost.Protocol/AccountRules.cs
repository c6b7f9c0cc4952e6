using System.Buffers.Text;

namespace Sealpost.Protocol;

/// <summary>Naming and key rules shared by the users service and clients.</summary>
public static class AccountRules
{
    // X25519 points of small order (little-endian u-coordinates, as libsodium's blocklist): a "public key"
    // among them forces a predictable shared secret, so it is never a real key.
    private static readonly byte[][] SmallOrderPoints =
    [
        Convert.FromHexString("0000000000000000000000000000000000000000000000000000000000000000"),
        Convert.FromHexString("0100000000000000000000000000000000000000000000000000000000000000"),
        Convert.FromHexString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        Convert.FromHexString("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        Convert.FromHexString("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        Convert.FromHexString("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        Convert.FromHexString("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ];

    /// <summary>Lower-cases and checks a username against <c>^[a-z0-9_]{3,32}$</c>; null when it does not fit.</summary>
    public static string? NormalizeUsername(string? username)
    {
        if (username is null || username.Length is < Limits.UsernameMinLength or > Limits.UsernameMaxLength)
            return null;
        Span<char> lower = stackalloc char[username.Length];
        for (var i = 0; i < username.Length; i++)
        {
            var c = username[i];
            if (c is >= 'A' and <= 'Z') c = (char)(c + 32);
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '_')) return null;
            lower[i] = c;
        }
        return new string(lower);
    }

    /// <summary>Decodes a base64url (padding optional) X25519 public key; null when malformed or not a usable key.</summary>
    public static byte[]? ParsePublicKey(string? value)
    {
        if (value is null || value.Length > 64) return null;
        var trimmed = value.TrimEnd('=');
        if (!Base64Url.IsValid(trimmed, out var length) || length != Limits.PublicKeyBytes) return null;
        var key = Base64Url.DecodeFromChars(trimmed);
        foreach (var point in SmallOrderPoints)
        {
            if (IsSamePoint(key, point)) return null;
        }
        return key;
    }

    public static string EncodePublicKey(ReadOnlySpan<byte> key) => Base64Url.EncodeToString(key);

    /// <summary>Exactly <paramref name="size"/> bytes in base64url (padding optional), e.g. an identity key or a certificate; null otherwise.</summary>
    public static byte[]? ParseBase64Url(string? value, int size)
    {
        var trimmed = value?.TrimEnd('=');
        return trimmed is not null && trimmed.Length <= 2 * size && Base64Url.IsValid(trimmed, out var length) && length == size
            ? Base64Url.DecodeFromChars(trimmed)
            : null;
    }

    // The top bit of an X25519 u-coordinate is ignored, so a key that differs only there is the same point.
    private static bool IsSamePoint(ReadOnlySpan<byte> key, ReadOnlySpan<byte> point) =>
        key[..31].SequenceEqual(point[..31]) && (key[31] & 0x7f) == (point[31] & 0x7f);
}
