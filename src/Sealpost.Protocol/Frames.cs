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
    public const string Ping = "ping";
    public const string Pong = "pong";
}

public sealed record SendFrame(string Type, string Id, string To, string Body);

public sealed record AcceptedFrame(string Type, string Id, string MessageId, DateTimeOffset SentAt);

public sealed record MessageFrame(string Type, string MessageId, string From, string Body, DateTimeOffset SentAt);

public sealed record AckFrame(string Type, string MessageId);

public sealed record ErrorFrame(string Type, string? Id, string Code, string Message);

/// <summary>Renews the access token on an open socket.</summary>
public sealed record AuthFrame(string Type, string AccessToken);
