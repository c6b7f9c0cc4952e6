namespace Sealpost.Client.Messaging;

/// <summary>
/// Something a person may want to know while messages go back and forth, though nothing failed: one of the records
/// nested here. Never a secret or message text.
/// </summary>
public abstract record MessagingWarning
{
    private protected MessagingWarning()
    {
    }

    /// <summary>
    /// A send is being tried again: the server answered <paramref name="Code"/> (<c>rate_limited</c>, <c>internal</c>), or
    /// <c>stale_devices</c>, when the recipient's or one's own devices changed and the message is sealed again for them.
    /// </summary>
    public sealed record SendRetrying(string To, string Code) : MessagingWarning;

    /// <summary>A message could not be checked now (the sender's key could not be fetched); it stays on the server and comes again.</summary>
    public sealed record MessageDeferred(string MessageId, string From, SealpostException Error) : MessagingWarning;

    /// <summary>The access token could not be renewed on the open socket; the server will close it and the reconnect says why.</summary>
    public sealed record TokenNotRenewed(SealpostException Error) : MessagingWarning;

    /// <summary>
    /// A message came again under new server ids with a sealed id already in history (<paramref name="SealedId"/>): a
    /// replay by the server, not shown twice.
    /// </summary>
    public sealed record Replayed(string MessageId, string From, string SealedId) : MessagingWarning;

    /// <summary>The server sent a frame that is not JSON; it was ignored.</summary>
    public sealed record UnreadableFrame : MessagingWarning;

    /// <summary>The server reported an error that answers no send of ours.</summary>
    public sealed record ServerReported(string Code, string Message) : MessagingWarning;
}
