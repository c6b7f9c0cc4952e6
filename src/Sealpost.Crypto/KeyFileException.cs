namespace Sealpost.Crypto;

/// <summary>Why a key file could not be saved or loaded, for a program to switch on.</summary>
public enum KeyFileError
{
    NotFound,
    CannotRead,
    CannotWrite,
    AlreadyExists,
    Damaged,
    UnsupportedVersion,

    /// <summary>AES-GCM cannot tell a wrong passphrase from an altered file: both fail the same tag check.</summary>
    WrongPassphraseOrDamaged,
}

/// <summary>A key file could not be saved or loaded; the message is written for people.</summary>
public sealed class KeyFileException : Exception
{
    public KeyFileException()
    {
    }

    public KeyFileException(string message) : base(message)
    {
    }

    public KeyFileException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public KeyFileException(KeyFileError error, string message, Exception? innerException = null) : base(message, innerException)
    {
        Error = error;
    }

    public KeyFileError Error { get; } = KeyFileError.Damaged;
}
