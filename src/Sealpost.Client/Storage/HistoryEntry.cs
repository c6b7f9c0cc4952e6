namespace Sealpost.Client.Storage;

/// <summary>One message in the local history, as <c>history.json</c> stores it; callers see it as a <see cref="Messaging.Message"/>.</summary>
internal sealed class HistoryEntry
{
    /// <summary>The server's message id (incoming), or the message id the server gave a sent message.</summary>
    public string Id { get; set; } = "";

    /// <summary>The id the sender chose (incoming, when the server says it): a resend has the same one under a new <see cref="Id"/>.</summary>
    public string? ClientId { get; set; }

    /// <summary><c>in</c> or <c>out</c> (<see cref="HistoryDirections"/>).</summary>
    public string Direction { get; set; } = "";

    /// <summary>The other party: the sender of an incoming message, the recipient of an outgoing one.</summary>
    public string Peer { get; set; } = "";

    /// <summary>The plaintext; null when the message was rejected or is a file.</summary>
    public string? Text { get; set; }

    /// <summary>For a file: the name the sender gave it, as sent (not yet safe as a path).</summary>
    public string? FileName { get; set; }

    public int? FileSize { get; set; }

    /// <summary>For a received file: its bytes (base64 in the JSON), kept so it can be saved later with <c>history --save-to</c>.</summary>
    public byte[]? FileData { get; set; }

    public DateTimeOffset SentAt { get; set; }
    public DateTimeOffset StoredAt { get; set; }

    /// <summary>See <see cref="HistoryStatus"/>.</summary>
    public string Status { get; set; } = HistoryStatus.Ok;

    /// <summary>Why a message is rejected or unverified, for people.</summary>
    public string? Problem { get; set; }

    public uint? SenderKeyId { get; set; }
    public uint? RecipientKeyId { get; set; }

    /// <summary>The sender's device (incoming messages from an account with linked devices; absent means device 1).</summary>
    public uint? FromDevice { get; set; }

    /// <summary>The envelope (standard base64) of a rejected message, kept so it can be examined.</summary>
    public string? Envelope { get; set; }
}
