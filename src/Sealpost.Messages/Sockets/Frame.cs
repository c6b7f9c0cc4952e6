using System.Text.Json;
using Sealpost.Protocol;

namespace Sealpost.Messages.Sockets;

/// <summary>A parsed client frame. <see cref="Problem"/> says, for people, what is wrong with it.</summary>
public sealed class ClientFrame
{
    public string? Type { get; private set; }

    public string? Id { get; private set; }

    public string? To { get; private set; }

    public string? Body { get; private set; }

    public string? MessageId { get; private set; }

    public string? AccessToken { get; private set; }

    public string? Problem { get; private set; }

    /// <summary>Reads one JSON object of string fields; unknown fields are ignored so clients can add some.</summary>
    public static ClientFrame Parse(ReadOnlySpan<byte> json)
    {
        var frame = new ClientFrame();
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return frame.Fail("A frame is one JSON object.");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                if (name is not ("type" or "id" or "to" or "body" or "message_id" or "access_token"))
                {
                    reader.Skip();
                    continue;
                }
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (reader.TokenType != JsonTokenType.String) return frame.Fail($"\"{name}\" must be a string.");
                var value = reader.GetString();
                switch (name)
                {
                    case "type": frame.Type = value; break;
                    case "id": frame.Id = value; break;
                    case "to": frame.To = value; break;
                    case "body": frame.Body = value; break;
                    case "message_id": frame.MessageId = value; break;
                    default: frame.AccessToken = value; break;
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read()) return frame.Fail("A frame is one JSON object.");
        }
        catch (JsonException)
        {
            return frame.Fail("The frame is not well-formed JSON.");
        }
        catch (InvalidOperationException)
        {
            return frame.Fail("The frame is not well-formed JSON.");
        }
        return frame.Type is null ? frame.Fail("\"type\" is required.") : frame;
    }

    private ClientFrame Fail(string problem)
    {
        Problem = problem;
        return this;
    }
}

/// <summary>Serialized server frames.</summary>
public static class ServerFrames
{
    public static byte[] Accepted(string id, Guid messageId, DateTimeOffset sentAt) =>
        JsonSerializer.SerializeToUtf8Bytes(new AcceptedFrame(FrameTypes.Accepted, id, messageId.ToString(), sentAt), SealpostJsonContext.Default.AcceptedFrame);

    public static byte[] Message(Guid messageId, string from, ReadOnlySpan<byte> body, DateTimeOffset sentAt) =>
        JsonSerializer.SerializeToUtf8Bytes(
            new MessageFrame(FrameTypes.Message, messageId.ToString(), from, Convert.ToBase64String(body), sentAt), SealpostJsonContext.Default.MessageFrame);

    public static byte[] Error(string? id, string code, string message) =>
        JsonSerializer.SerializeToUtf8Bytes(new ErrorFrame(FrameTypes.Error, id, code, message), SealpostJsonContext.Default.ErrorFrame);

    public static readonly byte[] Synced = JsonSerializer.SerializeToUtf8Bytes(new SyncedFrame(FrameTypes.Synced), SealpostJsonContext.Default.SyncedFrame);

    public static byte[] Authenticated(DateTimeOffset expiresAt) =>
        JsonSerializer.SerializeToUtf8Bytes(new AuthenticatedFrame(FrameTypes.Authenticated, expiresAt), SealpostJsonContext.Default.AuthenticatedFrame);
}
