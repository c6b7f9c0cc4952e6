using System.ComponentModel.DataAnnotations;

namespace Sealpost.Messages.Mailboxes;

/// <summary>Mailbox limits (section <c>Mailboxes</c>).</summary>
internal sealed class MailboxOptions
{
    public const string Section = "Mailboxes";

    /// <summary>How long an undelivered message waits before it is swept away.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan MessageLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Undelivered messages one mailbox may hold.</summary>
    [Range(1, 10_000_000)]
    public int Quota { get; set; } = 10_000;

    /// <summary>
    /// Undelivered messages from one sender account (all its devices together) one mailbox may hold: one account cannot
    /// take a whole mailbox.
    /// </summary>
    [Range(1, 10_000_000)]
    public int QuotaPerSender { get; set; } = 1_000;

    /// <summary>
    /// Messages one sender account (all its devices together) may have stored per day (UTC), for all recipients whose
    /// mailboxes are on one mailbox cluster together; live deliveries are free.
    /// </summary>
    [Range(1, 1_000_000_000)]
    public int StoredPerSenderPerDay { get; set; } = 50_000;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Most sends written in one database round trip (one commit).</summary>
    [Range(1, 10_000)]
    public int WriteBatchSize { get; set; } = 256;

    /// <summary>
    /// The PostgreSQL clusters holding mailboxes, each with the virtual shards it claims on its first start
    /// (<see cref="MailboxClusters"/>). Empty: one cluster, the <c>Database</c> section's, holding every shard.
    /// </summary>
    public List<MailboxClusterOptions> Clusters { get; set; } = [];

    /// <summary>Write batches in flight at once. One sender's messages always take the same lane, so they commit in order.</summary>
    [Range(1, 64)]
    public int WriteLanes { get; set; } = 4;
}
