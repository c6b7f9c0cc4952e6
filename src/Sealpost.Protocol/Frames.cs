namespace Sealpost.Protocol;

/// <summary>
/// One JSON object per WebSocket text frame, discriminated by <c>type</c>. Every party reads frames through the two
/// union records below (<see cref="ClientFrame"/>, <see cref="ServerFrame"/>) and writes them through the specific
/// records, all with <see cref="SealpostJsonContext"/>: one model of the wire.
/// </summary>
public static class FrameTypes
{
    public const string Send = "send";
    public const string Accepted = "accepted";
    public const string Message = "message";
    public const string Ack = "ack";
    public const string Error = "error";
    public const string Auth = "auth";
    public const string Authenticated = "authenticated";
    public const string Synced = "synced";
}

/// <summary>Stable codes of <c>error</c> frames; clients switch on these.</summary>
public static class ErrorCodes
{
    public const string UnknownRecipient = "unknown_recipient";
    public const string TooLarge = "too_large";
    public const string BadFrame = "bad_frame";
    public const string MailboxFull = "mailbox_full";
    public const string RateLimited = "rate_limited";
    public const string Internal = "internal";
    public const string Unauthorized = "unauthorized";
    public const string StaleDevices = "stale_devices";
}

/// <summary>WebSocket close codes beyond RFC 6455's own (1001 going away, 1008 policy, 1009 too big).</summary>
public static class CloseCodes
{
    /// <summary>The access token expired and was not renewed with an <c>auth</c> frame: refresh it and reconnect.</summary>
    public const int TokenExpired = 4401;

    /// <summary>The user already holds the most sockets allowed on one instance.</summary>
    public const int TooManySockets = 4429;
}

/// <summary>Any frame a client sends; which fields matter depends on <see cref="Type"/>.</summary>
public sealed record ClientFrame(
    string? Type,
    string? Id = null,
    string? To = null,
    string? Body = null,
    string? MessageId = null,
    IReadOnlyList<string>? MessageIds = null,
    string? AccessToken = null,
    IReadOnlyList<DeviceEnvelope>? Envelopes = null,
    IReadOnlyList<DeviceEnvelope>? Copies = null);

/// <summary>Any frame the server sends; which fields are present depends on <see cref="Type"/>.</summary>
public sealed record ServerFrame(
    string? Type,
    string? Id = null,
    string? MessageId = null,
    string? From = null,
    string? ClientId = null,
    string? Body = null,
    DateTimeOffset? SentAt = null,
    string? Code = null,
    string? Message = null,
    DateTimeOffset? ExpiresAt = null,
    int? FromDevice = null,
    IReadOnlyList<int>? RecipientDevices = null,
    IReadOnlyList<int>? OwnDevices = null);

/// <summary>
/// One message for <see cref="To"/>: either one envelope in <see cref="Body"/> (for an account whose only device is
/// device 1, as before linked devices), or one envelope per device of the recipient in <see cref="Envelopes"/> and one
/// per other device of the sender in <see cref="Copies"/>. Accepted as one unit: every copy durable, or an error.
/// </summary>
public sealed record SendFrame(string Type, string Id, string To, string? Body = null,
    IReadOnlyList<DeviceEnvelope>? Envelopes = null, IReadOnlyList<DeviceEnvelope>? Copies = null);

/// <summary>An envelope for one device (<see cref="Device"/>), standard base64 as <c>body</c> is.</summary>
public sealed record DeviceEnvelope(int Device, string Body);

public sealed record AcceptedFrame(string Type, string Id, string MessageId, DateTimeOffset SentAt);

/// <summary>
/// A message for the recipient. <see cref="ClientId"/> is the id the sender chose for it: two frames with the same
/// <see cref="From"/>, <see cref="FromDevice"/> and <see cref="ClientId"/> are one message (a resend), whatever their <see cref="MessageId"/>s.
/// Absent on messages stored before version 2 of the mailbox; then <see cref="MessageId"/> alone identifies it.
/// <see cref="FromDevice"/> is the sender's device (absent for device 1).
/// </summary>
public sealed record MessageFrame(string Type, string MessageId, string From, string? ClientId, string Body, DateTimeOffset SentAt, int? FromDevice = null);

/// <summary>Acknowledges one message (<see cref="MessageId"/>) or several at once (<see cref="MessageIds"/>, at most <see cref="Limits.AckIdsMax"/>).</summary>
public sealed record AckFrame(string Type, string? MessageId = null, IReadOnlyList<string>? MessageIds = null);

/// <summary>
/// An error about one frame. For <c>stale_devices</c>, the devices the message must be sealed to now: the recipient's
/// (<see cref="RecipientDevices"/>) and the sender's other devices (<see cref="OwnDevices"/>).
/// </summary>
public sealed record ErrorFrame(string Type, string? Id, string Code, string Message,
    IReadOnlyList<int>? RecipientDevices = null, IReadOnlyList<int>? OwnDevices = null);

/// <summary>Renews the access token on an open socket.</summary>
public sealed record AuthFrame(string Type, string AccessToken);

/// <summary>
/// The socket has been sent everything its mailbox held (the messages before this frame); what follows is live.
/// Sent once after connecting, and again after each later backlog is worked through.
/// </summary>
public sealed record SyncedFrame(string Type);

/// <summary>The answer to <see cref="AuthFrame"/>: the socket now lives until the new token's expiry.</summary>
public sealed record AuthenticatedFrame(string Type, DateTimeOffset ExpiresAt);
