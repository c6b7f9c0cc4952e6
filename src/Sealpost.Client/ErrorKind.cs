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
