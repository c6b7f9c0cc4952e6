using Sealpost.Client.Storage;

namespace Sealpost.Client.Messaging;

/// <summary>
/// A message this device holds: one received, a copy of one another device of this account sent, or one sent here. A
/// conversation shows them side by side, so they are one type; <see cref="Direction"/> and <see cref="Status"/> tell them apart.
/// </summary>
public sealed record Message
{
    /// <summary>The id the server gave the message.</summary>
    public required string Id { get; init; }

    /// <summary>The id the sender chose: a resend has the same one under a new <see cref="Id"/>.</summary>
    public string? ClientId { get; init; }

    public required MessageDirection Direction { get; init; }

    /// <summary>The other party: the sender of an incoming message, the recipient of an outgoing one.</summary>
    public required string Peer { get; init; }

    /// <summary>The text; null for a file or a message that was rejected.</summary>
    public string? Text { get; init; }

    /// <summary>For a file: the name the sender gave it, as sent (not yet safe as a path).</summary>
    public string? FileName { get; init; }

    public int? FileSize { get; init; }

    /// <summary>For a received file: its bytes.</summary>
    public byte[]? FileData { get; init; }

    public required DateTimeOffset SentAt { get; init; }

    /// <summary>When this device stored it.</summary>
    public DateTimeOffset StoredAt { get; init; }

    public required MessageStatus Status { get; init; }

    /// <summary>Why a message is rejected or unverified, for people.</summary>
    public string? Problem { get; init; }

    public uint? SenderKeyId { get; init; }

    public uint? RecipientKeyId { get; init; }

    /// <summary>The sending device, when the sender's account has linked devices (absent means device 1).</summary>
    public uint? FromDevice { get; init; }

    /// <summary>The envelope (standard base64) of a rejected message, kept so it can be examined.</summary>
    public string? Envelope { get; init; }

    internal static Message Of(HistoryEntry entry) => new()
    {
        Id = entry.Id,
        ClientId = entry.ClientId,
        Direction = entry.Direction == HistoryDirections.Out ? MessageDirection.Out : MessageDirection.In,
        Peer = entry.Peer,
        Text = entry.Text,
        FileName = entry.FileName,
        FileSize = entry.FileSize,
        FileData = entry.FileData,
        SentAt = entry.SentAt,
        StoredAt = entry.StoredAt,
        Status = entry.Status switch
        {
            HistoryStatus.UnverifiedKey => MessageStatus.UnverifiedKey,
            HistoryStatus.Rejected => MessageStatus.Rejected,
            HistoryStatus.Sent => MessageStatus.Sent,
            _ => MessageStatus.Ok,
        },
        Problem = entry.Problem,
        SenderKeyId = entry.SenderKeyId,
        RecipientKeyId = entry.RecipientKeyId,
        FromDevice = entry.FromDevice,
        Envelope = entry.Envelope,
    };
}
