namespace Sealpost.Protocol;

/// <summary>Size limits shared by servers and clients, so a client can refuse before it sends.</summary>
public static class Limits
{
    public const int UsernameMinLength = 3;
    public const int UsernameMaxLength = 32;
    public const int PasswordMinLength = 8;
    public const int PasswordMaxLength = 256;
    public const int DisplayNameMaxLength = 64;
    public const int PublicKeyBytes = 32;
    public const int RequestBodyMaxBytes = 16 * 1024;

    /// <summary>Largest envelope, in bytes, before base64 (a frame body is at most 64 KiB of base64).</summary>
    public const int BodyMaxBase64Chars = 64 * 1024;
}
