using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sealpost.Messages.Identity;
using Sealpost.Protocol;

namespace Sealpost.Messages.Frames;

/// <summary>Reads client frames and writes server frames, both through the shared <see cref="SealpostJsonContext"/>.</summary>
internal static class FrameCodec
{
    // Bodies are base64, whose '+' the default encoder writes as \u002B: six bytes for one. Nothing the server
    // writes is embedded in HTML, so the relaxed encoder (which still escapes quotes and controls) is safe.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _buffer;

    /// <summary>The frame, or a sentence for people saying what is wrong with it (then the frame is null).</summary>
    public static (ClientFrame? Frame, string? Problem) Parse(ReadOnlySpan<byte> json)
    {
        ClientFrame? frame;
        try
        {
            frame = JsonSerializer.Deserialize(json, SealpostJsonContext.Default.ClientFrame);
        }
        catch (JsonException e)
        {
            // The path names the field when a value has the wrong kind ("$.to", "$.envelopes[0].device"); otherwise the
            // JSON itself is broken.
            var path = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) && e.BytePositionInLine is not null
                && e.Message.Contains("could not be converted", StringComparison.Ordinal) ? p[2..] : null;
            var root = path?[..(path.IndexOfAny(['[', '.']) is var end and >= 0 ? end : path.Length)];
            return (null, root switch
            {
                "envelopes" or "copies" => $"\"{root}\" must be an array of objects with \"device\" (an integer) and \"body\" (a string).",
                null => "The frame is not one well-formed JSON object (nesting at most 8 deep).",
                _ when root != path => "The frame is not one well-formed JSON object (nesting at most 8 deep).",
                "message_ids" => "\"message_ids\" must be an array of strings.",
                _ => $"\"{root}\" must be a string.",
            });
        }
        if (frame is null) return (null, "A frame is one JSON object.");
        return frame.Type is null ? (null, "\"type\" is required.") : (frame, null);
    }

    public static byte[] Accepted(string id, Guid messageId, DateTimeOffset sentAt) =>
        Write(new AcceptedFrame(FrameTypes.Accepted, id, messageId.ToString(), sentAt), SealpostJsonContext.Default.AcceptedFrame);

    /// <summary>
    /// A <c>message</c> frame around a body that is already standard base64 (as the sender sent it), from the sending
    /// device's <see cref="DeviceAddress"/>.
    /// </summary>
    public static byte[] Message(Guid messageId, string sender, Guid? clientId, string base64Body, DateTimeOffset sentAt)
    {
        var (from, device) = DeviceAddress.Parse(sender);
        return Write(new MessageFrame(FrameTypes.Message, messageId.ToString(), from, clientId?.ToString(), base64Body, sentAt,
            device == DeviceAddress.FirstDevice ? null : device), SealpostJsonContext.Default.MessageFrame);
    }

    public static byte[] Error(string? id, string code, string message) =>
        Write(new ErrorFrame(FrameTypes.Error, id, code, message), SealpostJsonContext.Default.ErrorFrame);

    /// <summary><c>stale_devices</c>: the devices the message must be sealed to now.</summary>
    public static byte[] StaleDevices(string id, IReadOnlyList<int> recipientDevices, IReadOnlyList<int> ownDevices) =>
        Write(new ErrorFrame(FrameTypes.Error, id, ErrorCodes.StaleDevices,
            "The devices you sealed to are not the current ones; verify the current lists and seal again (same id).", recipientDevices, ownDevices),
            SealpostJsonContext.Default.ErrorFrame);

    public static readonly byte[] Synced = Write(new SyncedFrame(FrameTypes.Synced), SealpostJsonContext.Default.SyncedFrame);

    public static byte[] Authenticated(DateTimeOffset expiresAt) =>
        Write(new AuthenticatedFrame(FrameTypes.Authenticated, expiresAt), SealpostJsonContext.Default.AuthenticatedFrame);

    private static byte[] Write<T>(T frame, JsonTypeInfo<T> type)
    {
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions)) JsonSerializer.Serialize(writer, frame, type);
        return buffer.WrittenSpan.ToArray();
    }
}
