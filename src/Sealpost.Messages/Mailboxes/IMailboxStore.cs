namespace Sealpost.Messages.Mailboxes;

/// <summary>
/// A message a sender wants delivered: <see cref="Id"/> from <see cref="MessageIds"/>, <see cref="ClientId"/> the id the
/// sender chose (resends carry it again), <see cref="Body"/> the envelope as the sender sent it (standard base64).
/// </summary>
internal sealed record NewMessage(Guid Id, string Sender, Guid ClientId, string Recipient, string Body, DateTimeOffset SentAt);

/// <summary>A message waiting in a mailbox. <see cref="ClientId"/> is null for messages stored before mailbox version 2.</summary>
internal sealed record StoredMessage(Guid Id, string Sender, Guid? ClientId, byte[] Body, DateTimeOffset SentAt);

/// <summary>What became of a message given to the store. The values are fixed: PostgresMailboxStore's SQL returns them.</summary>
internal enum AcceptStatus
{
    /// <summary>Stored now: durable, and new.</summary>
    Stored = 0,

    /// <summary>
    /// A newer copy of the same sender's same client id waits in the mailbox already (a resend that was written first):
    /// its message id is returned, nothing is stored twice. (An older waiting copy is not a duplicate: the resend takes
    /// its place and is <see cref="Stored"/>.)
    /// </summary>
    Duplicate = 1,

    /// <summary>The recipient's mailbox holds its quota of undelivered messages.</summary>
    MailboxFull = 2,

    /// <summary>The recipient's mailbox holds <see cref="MailboxOptions.QuotaPerSender"/> undelivered messages from this sender.</summary>
    SenderShareFull = 3,

    /// <summary>This sender has had <see cref="MailboxOptions.StoredPerSenderPerDay"/> messages stored today.</summary>
    SenderDailyLimit = 4,

    /// <summary>The database asked does not hold the recipient's shard (it moved, or is moving): nothing was stored.</summary>
    ShardElsewhere = 5,

    /// <summary>The recipient's shard cannot take writes now (it is being moved, or its database is away): send again.</summary>
    Unavailable = 6,
}

internal readonly record struct AcceptResult(AcceptStatus Status, Guid MessageId, DateTimeOffset SentAt);

/// <summary>A read went to a database that does not hold the recipient's shard (any more).</summary>
internal sealed class ShardElsewhereException(int shard) : Exception($"mailbox shard {shard} is not held by this database")
{
    public int Shard { get; } = shard;
}

/// <summary>The recipient's shard is held by no database that answers right now (it is being moved, or its database is away).</summary>
internal sealed class ShardUnavailableException(int shard) : Exception($"mailbox shard {shard} is unavailable right now")
{
    public int Shard { get; } = shard;
}

/// <summary>
/// The temporary store of undelivered ciphertext. Every implementation passes the same contract tests
/// (tests/Sealpost.Messages.Tests/Mailboxes/MailboxStoreContract.cs). Batching and ordering of writes belong to
/// <see cref="MailboxWriter"/>; a store only does what it is asked, one round trip per call.
/// </summary>
internal interface IMailboxStore
{
    /// <summary>Stores a batch in one commit, in order; returns only once it is durable. One result per message.</summary>
    Task<AcceptResult[]> StoreAsync(IReadOnlyList<NewMessage> batch, CancellationToken ct);

    /// <summary>Deletes these messages, each only if it is addressed to the recipient named with it.</summary>
    Task DeleteAsync(IReadOnlyList<(string Recipient, Guid Id)> acked, CancellationToken ct);

    /// <summary>Deletes everything that waits for this recipient (a device that was removed).</summary>
    Task DeleteMailboxAsync(string recipient, CancellationToken ct);

    /// <summary>The recipient's oldest waiting messages, leaving out those in <paramref name="exclude"/> (already in flight).</summary>
    Task<IReadOnlyList<StoredMessage>> PendingAsync(string recipient, IReadOnlyCollection<Guid> exclude, int limit, CancellationToken ct);

    /// <summary>Which of these ids still wait in the recipient's mailbox.</summary>
    Task<IReadOnlyCollection<Guid>> StillPendingAsync(string recipient, IReadOnlyCollection<Guid> ids, CancellationToken ct);

    /// <summary>Deletes expired messages; returns how many.</summary>
    Task<int> SweepAsync(CancellationToken ct);

    /// <summary>Counts what waits, for the metrics (one scan of the mailbox index; run it minutes apart, not per request).</summary>
    Task<MailboxDepth> DepthAsync(CancellationToken ct);

    /// <summary>Checks the store answers.</summary>
    Task PingAsync(CancellationToken ct);
}
