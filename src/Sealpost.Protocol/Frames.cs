namespace Sealpost.Protocol;

/// <summary>
/// One JSON object per WebSocket text frame, discriminated by <c>type</c>. The server parses frames field by
/// field (to answer precise error codes), so these records describe the shape rather than drive parsing.
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
}

/// <summary>WebSocket close codes beyond RFC 6455's own (1001 going away, 1008 policy, 1009 too big).</summary>
public static class CloseCodes
{
    /// <summary>The access token expired and was not renewed with an <c>auth</c> frame: refresh it and reconnect.</summary>
    public const int TokenExpired = 4401;
}

public sealed record SendFrame(string Type, string Id, string To, string Body);

public sealed record AcceptedFrame(string Type, string Id, string MessageId, DateTimeOffset SentAt);

public sealed record MessageFrame(string Type, string MessageId, string From, string Body, DateTimeOffset SentAt);

public sealed record AckFrame(string Type, string MessageId);

public sealed record ErrorFrame(string Type, string? Id, string Code, string Message);

/// <summary>Renews the access token on an open socket.</summary>
public sealed record AuthFrame(string Type, string AccessToken);

/// <summary>
/// The socket has been sent everything its mailbox held (the messages before this frame); what follows is live.
/// Sent once after connecting, and again after each later backlog is worked through.
/// </summary>
public sealed record SyncedFrame(string Type);

/// <summary>The answer to <see cref="AuthFrame"/>: the socket now lives until the new token's expiry.</summary>
public sealed record AuthenticatedFrame(string Type, DateTimeOffset ExpiresAt);
