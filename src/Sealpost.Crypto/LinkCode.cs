using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Sealpost.Crypto;

/// <summary>
/// What a new device shows so that a signed-in device of the account it names can link it (docs/devices.md, "The link
/// code"): the username of that account, the server's link id, the public half of a one-time X25519 key the link secret
/// is sealed to, a commitment to the new device's own key (so that a key the server swapped in is noticed), and a check
/// over all of these (so that a typo is caught before anything is asked of the server). As text,
/// <c>sealpost-link:2:&lt;username&gt;:&lt;link id&gt;:&lt;key&gt;:&lt;commitment&gt;:&lt;check&gt;</c>; as a URI (for a
/// QR code), <c>sealpost://link?v=2&amp;u=…&amp;id=…&amp;k=…&amp;c=…&amp;x=…</c>; key, commitment and check in base64url
/// without padding.
/// </summary>
public sealed partial record LinkCode(string Username, string LinkId, byte[] LinkPublicKey, byte[] Commitment)
{
    public const int Version = 2;
    public const int CommitmentSize = 16;
    public const int CheckSize = 6;
    private const string TextPrefix = "sealpost-link:2:";
    private const string UriPrefix = "sealpost://link?";

    private static ReadOnlySpan<byte> CommitmentLabel => "sealpost/link/v1\0"u8;

    private static ReadOnlySpan<byte> CheckLabel => "sealpost/link-code/v2\0"u8;

    /// <summary>The code for joining <paramref name="username"/>'s account through a link id, with the one-time link key and the new device's key.</summary>
    public static LinkCode For(string username, string linkId, ReadOnlySpan<byte> linkPublicKey, ReadOnlySpan<byte> devicePublicKey)
    {
        Crypto.Username.Require(username, nameof(username));
        if (!LinkIdPattern().IsMatch(linkId ?? "")) throw new ArgumentException("A link id is 16 to 64 characters from A-Z, a-z, 0-9, '-' and '_'.", nameof(linkId));
        Dhkem.RequireKey(linkPublicKey, nameof(linkPublicKey), "public");
        return new LinkCode(username, linkId!, linkPublicKey.ToArray(), Commit(devicePublicKey));
    }

    /// <summary>The first 16 bytes of SHA-256("sealpost/link/v1" || 0x00 || the new device's public key): unchanged since version 1.</summary>
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

    /// <summary>
    /// <c>username:link id:key:commitment</c>, the fields as the text form shows them: what the check covers, whichever
    /// form the code travels in.
    /// </summary>
    public string Fields => $"{Username}:{LinkId}:{Base64Url.EncodeToString(LinkPublicKey)}:{Base64Url.EncodeToString(Commitment)}";

    /// <summary>
    /// The first 6 bytes of SHA-256("sealpost/link-code/v2" || 0x00 || <see cref="Fields"/> in ASCII), in base64url:
    /// a checksum against typing slips, not a secret (whoever can change the code can compute it).
    /// </summary>
    public string Check => CheckOf(Fields);

    public override string ToString() => $"{TextPrefix}{Fields}:{Check}";

    public string ToUri() =>
        $"{UriPrefix}v={Version}&u={Username}&id={LinkId}&k={Base64Url.EncodeToString(LinkPublicKey)}&c={Base64Url.EncodeToString(Commitment)}&x={Check}";

    /// <summary>
    /// Reads a code in either form, as a person pasted it (spaces around it are ignored). A code with any character
    /// changed is a <see cref="LinkCodeException"/> that says it is mistyped; a version 1 code (which named no account)
    /// is one that says to update the new device.
    /// </summary>
    public static LinkCode Parse(string? text)
    {
        var code = (text ?? "").Trim();
        string? username, id, key, commitment, check;
        if (code.StartsWith(TextPrefix, StringComparison.Ordinal))
        {
            var parts = code[TextPrefix.Length..].Split(':');
            if (parts.Length != 5) throw Mistyped("it should have five parts after \"sealpost-link:2:\", separated by ':'");
            (username, id, key, commitment, check) = (parts[0], parts[1], parts[2], parts[3], parts[4]);
        }
        else if (code.StartsWith(UriPrefix, StringComparison.Ordinal))
        {
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in code[UriPrefix.Length..].Split('&'))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0 || !fields.TryAdd(pair[..equals], pair[(equals + 1)..])) throw Mistyped("its fields should be v, u, id, k, c and x, once each");
            }
            if (fields.TryGetValue("v", out var version) && version != "2") throw OtherVersion(version, fields.Count == 4);
            if (fields.Count != 6 || version is null) throw Mistyped("its fields should be v=2, u, id, k, c and x");
            (username, id, key, commitment, check) =
                (fields.GetValueOrDefault("u"), fields.GetValueOrDefault("id"), fields.GetValueOrDefault("k"), fields.GetValueOrDefault("c"), fields.GetValueOrDefault("x"));
        }
        else if (OtherTextVersion().Match(code) is { Success: true } other)
        {
            throw OtherVersion(other.Groups[1].Value, other.Groups[2].Value.Split(':').Length == 3);
        }
        else throw Mistyped("it should start with \"sealpost-link:2:\" or \"sealpost://link?\"");

        // The check first: a slip anywhere is said as a slip, whatever field it landed in.
        if (username is null || id is null || key is null || commitment is null || check?.Length != Base64Url.GetEncodedLength(CheckSize)
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(CheckOf($"{username}:{id}:{key}:{commitment}")), Encoding.ASCII.GetBytes(check)))
            throw Mistyped("its check does not match the rest");
        if (!Crypto.Username.IsValid(username)) throw Mistyped("its username is not one");
        if (!LinkIdPattern().IsMatch(id)) throw Mistyped("its link id is not one the server gives");
        var parsed = new LinkCode(username, id, Decode(key, X25519KeyPair.KeySize, "key"), Decode(commitment, CommitmentSize, "commitment"));
        // Base64url has spare bits in its last character: only the one spelling of each value is a code.
        if (parsed.Fields != $"{username}:{id}:{key}:{commitment}") throw Mistyped("a value in it is not spelt as the new device spelt it");
        return parsed;
    }

    private static string CheckOf(string fields)
    {
        if (!Ascii.IsValid(fields)) return "";   // no check matches a code that is not ASCII
        var input = new byte[CheckLabel.Length + fields.Length];
        CheckLabel.CopyTo(input);
        Encoding.ASCII.GetBytes(fields, input.AsSpan(CheckLabel.Length));
        return Base64Url.EncodeToString(SHA256.HashData(input).AsSpan(0, CheckSize));
    }

    private static byte[] Decode(string text, int size, string what)
    {
        var bytes = new byte[size];
        if (text.Length != Base64Url.GetEncodedLength(size) || !Base64Url.IsValid(text) || Base64Url.DecodeFromChars(text, bytes) != size)
            throw Mistyped($"its {what} should be {size} bytes in base64url");
        return bytes;
    }

    private static LinkCodeException Mistyped(string why) =>
        new($"The link code is mistyped ({why}): copy it again, whole, from the new device.", mistyped: true);

    /// <summary>A code of version 1 (shaped as one) is refused as old; any other version is as likely a slip as a newer Sealpost.</summary>
    private static LinkCodeException OtherVersion(string version, bool shapedAsVersion1) => version == "1" && shapedAsVersion1
        ? new("This link code is from an older Sealpost (version 1, which does not name the account to join): update Sealpost on the new device and run 'sealpost link' there again.", mistyped: false)
        : Mistyped($"it says version {TextOf(version)}, and this Sealpost reads version 2; if it is not a slip, update Sealpost on this device");

    private static string TextOf(string version) => version.Length <= 8 && version.All(char.IsAsciiLetterOrDigit) ? $"'{version}'" : "(unreadable)";

    [GeneratedRegex("^[A-Za-z0-9_-]{16,64}$")]
    private static partial Regex LinkIdPattern();

    [GeneratedRegex("^sealpost-link:([^:]*):(.*)$", RegexOptions.Singleline)]
    private static partial Regex OtherTextVersion();
}
