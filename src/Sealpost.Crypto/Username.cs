namespace Sealpost.Crypto;

/// <summary>Sealpost usernames: <c>^[a-z0-9_]{3,32}$</c>, already lower-cased, so they are ASCII on the wire.</summary>
internal static class Username
{
    public const int MinLength = 3;
    public const int MaxLength = 32;

    public static bool IsValid(string? username)
    {
        if (username is null || username.Length is < MinLength or > MaxLength)
            return false;
        foreach (var c in username)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))
                return false;
        }
        return true;
    }

    public static void Require(string? username, string paramName)
    {
        if (!IsValid(username))
            throw new ArgumentException($"A username is 3 to 32 characters from a-z, 0-9 and '_', in lower case; got \"{username}\".", paramName);
    }

    /// <summary>Writes I2OSP(len, 1) || ASCII(username) and returns the bytes written.</summary>
    public static int WriteLengthPrefixed(string username, Span<byte> destination)
    {
        destination[0] = (byte)username.Length;
        for (var i = 0; i < username.Length; i++)
            destination[1 + i] = (byte)username[i];
        return 1 + username.Length;
    }
}
