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

    /// <summary>Most devices an account may have at once (docs/devices.md).</summary>
    public const int DevicesMax = 6;

    /// <summary>Longest device name, in characters.</summary>
    public const int DeviceNameMaxLength = 64;

    /// <summary>Longest <c>body</c> of a <c>send</c> frame: 64 KiB of standard base64, so at most 48 KiB of envelope.</summary>
    public const int BodyMaxBase64Chars = 64 * 1024;

    /// <summary>Largest envelope in bytes (the decoded body).</summary>
    public const int BodyMaxBytes = BodyMaxBase64Chars / 4 * 3;

    /// <summary>Most message ids one <c>ack</c> frame may carry.</summary>
    public const int AckIdsMax = 256;

    /// <summary>
    /// Largest WebSocket frame the server reads; beyond it the socket is closed with 1009. A send carries one envelope per
    /// device of the recipient and of the sender (at most 2 × <see cref="DevicesMax"/> − 1), each up to
    /// <see cref="BodyMaxBase64Chars"/>: the frame holds that with room for its JSON. The buffer grows only as a frame needs.
    /// </summary>
    public const int FrameMaxBytes = 2 * DevicesMax * BodyMaxBase64Chars;
}
