namespace Sealpost.Client;

/// <summary>
/// A failure: its <see cref="Kind"/> for a program to act on, its <see cref="Code"/> to tell one failure from another,
/// and a one-sentence message for a developer or a log. It never carries a key, token, password or plaintext. What to
/// tell a user, and what they should do next, is the application's to say (the CLI's words are in its Hints.cs).
/// </summary>
public class SealpostException : Exception
{
    public SealpostException(ErrorKind kind, string code, string message, Exception? innerException = null) : base(message, innerException)
    {
        ArgumentException.ThrowIfNullOrEmpty(code);
        Kind = kind;
        Code = code;
    }

    public ErrorKind Kind { get; }

    /// <summary>
    /// Stable: one of <see cref="ClientErrorCodes"/> for a failure the SDK found, or the server's own code when the server
    /// refused (<see cref="ServerCode"/>).
    /// </summary>
    public string Code { get; }

    /// <summary>
    /// The code the server gave (a problem type's last segment, a socket error code, or an HTTP status without a problem
    /// type), when it was the server that refused; null when the SDK found the failure itself.
    /// </summary>
    public string? ServerCode { get; internal init; }
}
