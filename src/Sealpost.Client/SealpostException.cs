namespace Sealpost.Client;

/// <summary>A failure with a one-sentence message written for people; it never carries a key, token, password or plaintext.</summary>
public class SealpostException : Exception
{
    public SealpostException()
    {
    }

    public SealpostException(string message) : base(message)
    {
    }

    public SealpostException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public SealpostException(ErrorKind kind, string message, Exception? innerException = null) : base(message, innerException)
    {
        Kind = kind;
    }

    public ErrorKind Kind { get; } = ErrorKind.Invalid;

    /// <summary>The stable machine code from the server (problem type suffix or socket error code), when there is one.</summary>
    public string? Code { get; init; }
}
