namespace Sealpost.Client.Messaging;

public enum MessageStatus
{
    /// <summary>Opened and verified with a key the user trusts (pinned on first use or accepted).</summary>
    Ok,

    /// <summary>Opened and verified, but with a key of the sender's that the user has not accepted yet; <see cref="Message.Problem"/> says which.</summary>
    UnverifiedKey,

    /// <summary>Could not be opened or verified; kept with its envelope (<see cref="Message.Envelope"/>) and acknowledged so it is not delivered forever.</summary>
    Rejected,

    /// <summary>Sent by this account (from this device or another one) and accepted by the server.</summary>
    Sent,
}
