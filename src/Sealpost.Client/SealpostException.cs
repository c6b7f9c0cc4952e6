using Sealpost.Protocol;
using Sealpost.Client.Contacts;

namespace Sealpost.Client;

/// <summary>What kind of failure a <see cref="SealpostException"/> is, so a program (the CLI's exit codes) can switch on it.</summary>
public enum ErrorKind
{
    /// <summary>The caller asked for something malformed or impossible (a bad username, a message too long, no such local state).</summary>
    Invalid,

    /// <summary>The server could not be reached, or answered with a failure of its own.</summary>
    Network,

    /// <summary>Not logged in, wrong password, or the session has ended.</summary>
    Auth,

    /// <summary>A contact's key differs from the one pinned, and the user has not accepted the new one.</summary>
    KeyChanged,

    NotFound,

    /// <summary>A key file, an envelope or a key did not check out.</summary>
    Crypto,

    /// <summary>The server refused this request for a reason that retrying will not fix (mailbox full, too large, a taken name).</summary>
    Refused,
}

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

/// <summary>The server now publishes another key for a contact than the one pinned here; nothing is sent until the user trusts it.</summary>
public sealed class KeyChangedException(ContactStatus status) : SealpostException(
    ErrorKind.KeyChanged,
    status.PendingIdentityKey is { } identity
        ? $"The identity key of {status.Username} has changed (pinned fingerprint {status.TrustedFingerprint}; now " +
          $"{Sealpost.Crypto.Fingerprint.Of(AccountRules.ParseBase64Url(identity, Sealpost.Crypto.IdentityKey.PublicKeySize) ?? [])}). Compare safety numbers with them, " +
          $"then run 'sealpost trust {status.Username}'."
        : $"The key of {status.Username} has changed (pinned key id {status.TrustedKeyId}, fingerprint {status.TrustedFingerprint}; " +
          $"now key id {status.Pending?.KeyId}, fingerprint {status.Pending?.Fingerprint}). Compare fingerprints with them, then run " +
          $"'sealpost trust {status.Username}'.")
{
    public ContactStatus Status { get; } = status;
}
