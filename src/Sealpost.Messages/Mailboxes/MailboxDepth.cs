namespace Sealpost.Messages.Mailboxes;

/// <summary>
/// A census of the mailboxes: undelivered messages, how many mailboxes hold at least each of <see cref="Bounds"/>
/// messages, the fullest one and the oldest message. No mailbox is named.
/// </summary>
internal sealed record MailboxDepth(long Messages, long[] AtLeast, long Deepest, double OldestAgeSeconds)
{
    public static readonly string[] Bounds = ["1", "10", "100", "1000", "10000"];

    public static readonly MailboxDepth Empty = new(0, new long[Bounds.Length], 0, 0);
}
