namespace Sealpost.Client.Contacts;

public enum ContactState
{
    /// <summary>Seen for the first time and pinned now (trust on first use).</summary>
    New,

    /// <summary>The server's key is the one pinned.</summary>
    Pinned,

    /// <summary>The server's key is the one pinned, and the user said they compared fingerprints.</summary>
    Verified,

    /// <summary>The server's key differs from the one pinned; sending is refused until the user trusts it.</summary>
    Changed,
}
