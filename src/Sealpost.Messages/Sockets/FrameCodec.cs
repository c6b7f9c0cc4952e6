using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sealpost.Protocol;

namespace Sealpost.Messages.Sockets;

/// <summary>Reads client frames and writes server frames, both through the shared <see cref="SealpostJsonContext"/>.</summary>
public static class FrameCodec
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
            // The path names the field when a value has the wrong kind ("$.to"); otherwise the JSON itself is broken.
            var field = e.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) && !path.Contains('[', StringComparison.Ordinal) && e.BytePositionInLine is not null
                ? path[2..]
                : null;
            return (null, field is not null && e.Message.Contains("could not be converted", StringComparison.Ordinal)
                ? $"\"{field}\" must be {(field == "message_ids" ? "an array of strings" : "a string")}."
                : "The frame is not one well-formed JSON object (nesting at most 8 deep).");
        }
        if (frame is null) return (null, "A frame is one JSON object.");
        return frame.Type is null ? (null, "\"type\" is required.") : (frame, null);
    }

    public static byte[] Accepted(string id, Guid messageId, DateTimeOffset sentAt) =>
        Write(new AcceptedFrame(FrameTypes.Accepted, id, messageId.ToString(), sentAt), SealpostJsonContext.Default.AcceptedFrame);

    /// <summary>A <c>message</c> frame around a body that is already standard base64 (as the sender sent it).</summary>
    public static byte[] Message(Guid messageId, string from, Guid? clientId, string base64Body, DateTimeOffset sentAt) =>
        Write(new MessageFrame(FrameTypes.Message, messageId.ToString(), from, clientId?.ToString(), base64Body, sentAt), SealpostJsonContext.Default.MessageFrame);

    public static byte[] Error(string? id, string code, string message) =>
        Write(new ErrorFrame(FrameTypes.Error, id, code, message), SealpostJsonContext.Default.ErrorFrame);

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
