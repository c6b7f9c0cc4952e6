namespace Sealpost.Client.Storage;

/// <summary>The status strings of <c>history.json</c>; callers see them as <see cref="Messaging.MessageStatus"/>.</summary>
internal static class HistoryStatus
{
    /// <summary>Opened and verified with a key the user trusts (pinned on first use or accepted).</summary>
    public const string Ok = "ok";

    /// <summary>Opened and verified, but with a key of the sender's that the user has not accepted yet.</summary>
    public const string UnverifiedKey = "unverified_key";

    /// <summary>Could not be opened or verified; kept with its envelope and acknowledged so it is not delivered forever.</summary>
    public const string Rejected = "rejected";

    /// <summary>Sent by this device and accepted by the server.</summary>
    public const string Sent = "sent";

    /// <summary>
    /// A delivery receipt from the peer's device (payload <c>FF 02</c>): acknowledged, never kept or shown as a message.
    /// </summary>
    public const string Receipt = "receipt";
}
