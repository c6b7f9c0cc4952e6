using Sealpost.Messages.Mailboxes;

namespace Sealpost.Messages.Delivery;

/// <summary>Where the <see cref="Relay"/> answers a sender socket's messages (<c>Sending/Sender</c>).</summary>
internal interface ISendReplies
{
    /// <summary>The answer for one message: <c>accepted</c> (<paramref name="accepted"/> true) or <c>error</c>. Must not block.</summary>
    void Answered(NewMessage message, byte[] frame, bool accepted);
}
