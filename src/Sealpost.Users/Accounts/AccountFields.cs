using System.Buffers.Text;
using System.Globalization;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;

namespace Sealpost.Users.Accounts;

/// <summary>Field checks for account requests. They are naming policy and size limits, not an injection defence.</summary>
internal static class AccountFields
{
    public static string? Username(FieldErrors errors, string? value)
    {
        var normalized = AccountRules.NormalizeUsername(value);
        if (normalized is null)
            errors.Add("username", value is null ? "Required." : "3 to 32 characters: letters a-z, digits and underscore.");
        return normalized;
    }

    public static void Password(FieldErrors errors, string field, string? value)
    {
        if (value is null) errors.Add(field, "Required.");
        else if (!PasswordFits(value)) errors.Add(field, $"{Limits.PasswordMinLength} to {Limits.PasswordMaxLength} characters.");
    }

    /// <summary>Whether a password keeps the length rule every stored password was set under.</summary>
    public static bool PasswordFits(string value) =>
        value.Length <= Limits.PasswordMaxLength * 2 && value.EnumerateRunes().Count() is >= Limits.PasswordMinLength and <= Limits.PasswordMaxLength;

    public static byte[]? PublicKey(FieldErrors errors, string? value)
    {
        var key = AccountRules.ParsePublicKey(value);
        if (key is null)
            errors.Add("public_key", value is null ? "Required." : "An X25519 public key: 32 bytes, base64url.");
        return key;
    }

    /// <summary>Exactly <paramref name="size"/> bytes in base64url (padding optional), e.g. an identity key or a certificate.</summary>
    public static byte[]? Bytes(FieldErrors errors, string field, string? value, int size, string what) =>
        Bytes(errors, field, value, size, size, $"{what}: {size} bytes, base64url.");

    /// <summary><paramref name="minSize"/> to <paramref name="maxSize"/> bytes in base64url (padding optional); else the error <paramref name="rule"/>.</summary>
    public static byte[]? Bytes(FieldErrors errors, string field, string? value, int minSize, int maxSize, string rule)
    {
        var trimmed = value?.TrimEnd('=');
        if (trimmed is not null && trimmed.Length <= Base64Url.GetEncodedLength(maxSize)
            && Base64Url.IsValid(trimmed, out var length) && length >= minSize && length <= maxSize)
            return Base64Url.DecodeFromChars(trimmed);
        errors.Add(field, value is null ? "Required." : rule);
        return null;
    }

    /// <summary>Empty means none. Control and bidirectional-override characters are refused: they disguise names.</summary>
    public static string? DisplayName(FieldErrors errors, string? value) =>
        string.IsNullOrEmpty(value) ? null : Name(errors, "display_name", value, Limits.DisplayNameMaxLength);

    /// <summary>A device's name: 1 to 64 characters, under the rules of a display name.</summary>
    public static string? DeviceName(FieldErrors errors, string field, string? value)
    {
        if (!string.IsNullOrEmpty(value)) return Name(errors, field, value, Limits.DeviceNameMaxLength);
        errors.Add(field, value is null ? "Required." : $"1 to {Limits.DeviceNameMaxLength} characters.");
        return null;
    }

    /// <summary>A positive integer id from a route (a device id, a key id); null and an error otherwise.</summary>
    public static int? Id(FieldErrors errors, string field, string value)
    {
        if (value.Length <= 10 && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id >= 1) return id;
        errors.Add(field, "An integer from 1.");
        return null;
    }

    /// <summary>A name people read: at most <paramref name="maxLength"/> UTF-16 code units, no control or text-direction characters, not only white space.</summary>
    private static string? Name(FieldErrors errors, string field, string value, int maxLength)
    {
        if (value.Length > maxLength)
        {
            errors.Add(field, $"At most {maxLength} characters.");
            return null;
        }
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            var lonely = char.IsHighSurrogate(c) ? i + 1 >= value.Length || !char.IsLowSurrogate(value[++i]) : char.IsLowSurrogate(c);
            if (lonely || char.IsControl(c) || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069')
                || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.LineSeparator || c == '\u2029')
            {
                errors.Add(field, "Control and text-direction characters are not allowed.");
                return null;
            }
        }
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add(field, "Must not be only white space.");
            return null;
        }
        return value;
    }
}
