namespace Sealpost.Messages.Mailboxes;

/// <summary>
/// A message a sender wants stored for a recipient under <see cref="Id"/> (from <see cref="MessageIds"/>);
/// <see cref="ClientId"/> makes re-sends idempotent.
/// </summary>
public sealed record NewMessage(Guid Id, string Sender, Guid ClientId, string Recipient, byte[] Body);

/// <summary>A message waiting in a mailbox.</summary>
public sealed record StoredMessage(Guid Id, string Sender, string Recipient, byte[] Body, DateTimeOffset SentAt);

public enum AcceptStatus
{
    /// <summary>Stored now: durable, and new.</summary>
    Stored,

    /// <summary>The same sender already sent this client id: the earlier message id is returned, nothing is stored twice.</summary>
    Duplicate,

    /// <summary>The recipient's mailbox holds its quota of undelivered messages.</summary>
    MailboxFull,
}

public readonly record struct AcceptResult(AcceptStatus Status, Guid MessageId, DateTimeOffset SentAt);

/// <summary>
/// The temporary store of undelivered ciphertext. Every implementation passes the same contract tests
/// (tests/Sealpost.Messages.Tests/Mailboxes/MailboxStoreContract.cs).
/// </summary>
public interface IMailboxStore
{
    /// <summary>Returns only once the message is durable (or was already accepted).</summary>
    Task<AcceptResult> AcceptAsync(NewMessage message, CancellationToken ct);

    /// <summary>The recipient's oldest waiting messages, leaving out those in <paramref name="exclude"/> (already in flight).</summary>
    Task<IReadOnlyList<StoredMessage>> PendingAsync(string recipient, IReadOnlyCollection<Guid> exclude, int limit, CancellationToken ct);

    /// <summary>Deletes the message if, and only if, it is addressed to <paramref name="recipient"/>; false when there was none.</summary>
    Task<bool> AckAsync(string recipient, Guid messageId, CancellationToken ct);

    /// <summary>Which of these ids still wait in the recipient's mailbox.</summary>
    Task<IReadOnlyCollection<Guid>> StillPendingAsync(string recipient, IReadOnlyCollection<Guid> ids, CancellationToken ct);

    /// <summary>Deletes expired messages and forgets old client ids; returns how many messages expired.</summary>
    Task<int> SweepAsync(CancellationToken ct);

    /// <summary>Checks the store answers.</summary>
    Task PingAsync(CancellationToken ct);
}
