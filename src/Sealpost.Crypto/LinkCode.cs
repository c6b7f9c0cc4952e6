using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Sealpost.Crypto;

/// <summary>
/// What a new device shows so that a signed-in device can link it (docs/devices.md, "Linking a new device"): the
/// server's link id, the public half of a one-time X25519 key the link secret is sealed to, and a commitment to the
/// new device's own key, so that a key the server swapped in is noticed. As text,
/// <c>sealpost-link:1:&lt;link id&gt;:&lt;key&gt;:&lt;commitment&gt;</c>; as a URI (for a QR code),
/// <c>sealpost://link?v=1&amp;id=…&amp;k=…&amp;c=…</c>; key and commitment in base64url without padding.
/// </summary>
public sealed partial record LinkCode(string LinkId, byte[] LinkPublicKey, byte[] Commitment)
{
    public const int CommitmentSize = 16;
    private const string TextPrefix = "sealpost-link:1:";
    private const string UriPrefix = "sealpost://link?";

    private static ReadOnlySpan<byte> CommitmentLabel => "sealpost/link/v1\0"u8;

    /// <summary>The code for a link id, the one-time link key and the new device's key.</summary>
    public static LinkCode For(string linkId, ReadOnlySpan<byte> linkPublicKey, ReadOnlySpan<byte> devicePublicKey)
    {
        if (!LinkIdPattern().IsMatch(linkId ?? "")) throw new ArgumentException("A link id is 16 to 64 characters from A-Z, a-z, 0-9, '-' and '_'.", nameof(linkId));
        Dhkem.RequireKey(linkPublicKey, nameof(linkPublicKey), "public");
        return new LinkCode(linkId!, linkPublicKey.ToArray(), Commit(devicePublicKey));
    }

    /// <summary>The first 16 bytes of SHA-256("sealpost/link/v1" || 0x00 || the new device's public key).</summary>
    public static byte[] Commit(ReadOnlySpan<byte> devicePublicKey)
    {
        Dhkem.RequireKey(devicePublicKey, nameof(devicePublicKey), "public");
        Span<byte> input = stackalloc byte[CommitmentLabel.Length + X25519KeyPair.KeySize];
        CommitmentLabel.CopyTo(input);
        devicePublicKey.CopyTo(input[CommitmentLabel.Length..]);
        return SHA256.HashData(input)[..CommitmentSize];
    }

    /// <summary>Whether the key the server says the new device asked with is the one this code commits to.</summary>
    public bool Matches(ReadOnlySpan<byte> devicePublicKey) =>
        devicePublicKey.Length == X25519KeyPair.KeySize && CryptographicOperations.FixedTimeEquals(Commit(devicePublicKey), Commitment);

    public override string ToString() => $"{TextPrefix}{LinkId}:{Base64Url.EncodeToString(LinkPublicKey)}:{Base64Url.EncodeToString(Commitment)}";

    public string ToUri() => $"{UriPrefix}v=1&id={LinkId}&k={Base64Url.EncodeToString(LinkPublicKey)}&c={Base64Url.EncodeToString(Commitment)}";

    /// <summary>Reads a code in either form, as a person pasted it (spaces around it are ignored). Anything else is a <see cref="FormatException"/> that says what is wrong.</summary>
    public static LinkCode Parse(string? text)
    {
        var code = (text ?? "").Trim();
        string? id, key, commitment;
        if (code.StartsWith(TextPrefix, StringComparison.Ordinal))
        {
            var parts = code[TextPrefix.Length..].Split(':');
            if (parts.Length != 3) throw Bad("it should have three parts after \"sealpost-link:1:\", separated by ':'");
            (id, key, commitment) = (parts[0], parts[1], parts[2]);
        }
        else if (code.StartsWith(UriPrefix, StringComparison.Ordinal))
        {
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in code[UriPrefix.Length..].Split('&'))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0 || !fields.TryAdd(pair[..equals], pair[(equals + 1)..])) throw Bad("its fields should be v, id, k and c, once each");
            }
            if (fields.Count != 4 || fields.GetValueOrDefault("v") != "1") throw Bad("its fields should be v=1, id, k and c");
            (id, key, commitment) = (fields.GetValueOrDefault("id"), fields.GetValueOrDefault("k"), fields.GetValueOrDefault("c"));
        }
        else if (code.StartsWith("sealpost-link:", StringComparison.Ordinal) || code.StartsWith("sealpost://link", StringComparison.Ordinal))
        {
            throw Bad("it is of a version this Sealpost does not know; update Sealpost on this device");
        }
        else throw Bad("it should start with \"sealpost-link:1:\" or \"sealpost://link?\"");

        if (id is null || !LinkIdPattern().IsMatch(id)) throw Bad("its link id is not one the server gives");
        return new LinkCode(id, Decode(key, X25519KeyPair.KeySize, "key"), Decode(commitment, CommitmentSize, "commitment"));
    }

    private static byte[] Decode(string? text, int size, string what)
    {
        var bytes = new byte[size];
        if (text is null || text.Length != Base64Url.GetEncodedLength(size) || !Base64Url.IsValid(text)
            || Base64Url.DecodeFromChars(text, bytes) != size)
            throw Bad($"its {what} should be {size} bytes in base64url");
        return bytes;
    }

    private static FormatException Bad(string why) => new($"This is not a Sealpost link code: {why}.");

    [GeneratedRegex("^[A-Za-z0-9_-]{16,64}$")]
    private static partial Regex LinkIdPattern();
}
