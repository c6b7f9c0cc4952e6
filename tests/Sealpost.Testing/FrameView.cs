using System.Text;
using System.Text.Json;

namespace Sealpost.Testing;

/// <summary>
/// A server frame, parsed only as far as a benchmark needs: kind, ids, code; <c>from</c> and <c>body</c> as slices of the
/// received bytes (valid only during <see cref="ProtocolClient.ReceiveLoopAsync"/>'s callback), so a delivered body is
/// checked without a string per message. The one hand parser of the wire (everything else, the tests included, reads
/// <c>Sealpost.Protocol.ServerFrame</c> through <c>SealpostJsonContext</c>): the load generator shares the two cores with
/// the system it measures, and this parser allocates nothing per message.
/// </summary>
public readonly struct FrameView
{
    public FrameKind Kind { get; init; }

    public Guid Id { get; init; }

    public bool HasId { get; init; }

    public Guid MessageId { get; init; }

    /// <summary>The sender's id for a delivered message (<c>client_id</c>).</summary>
    public Guid ClientId { get; init; }

    public string? Code { get; init; }

    public ReadOnlyMemory<byte> From { get; init; }

    public ReadOnlyMemory<byte> Body { get; init; }

    public static FrameView Parse(ReadOnlyMemory<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json.Span);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return new FrameView { Kind = FrameKind.Malformed };
            FrameKind kind = FrameKind.Other;
            Guid id = default, messageId = default, clientId = default;
            var hasId = false;
            string? code = null;
            ReadOnlyMemory<byte> from = default, body = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.ValueSpan;
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    reader.Skip();
                    continue;
                }
                if (name.SequenceEqual("type"u8))
                {
                    kind = reader.ValueTextEquals("message"u8) ? FrameKind.Message
                        : reader.ValueTextEquals("accepted"u8) ? FrameKind.Accepted
                        : reader.ValueTextEquals("error"u8) ? FrameKind.Error : FrameKind.Other;
                }
                else if (name.SequenceEqual("id"u8)) hasId = reader.TryGetGuid(out id);
                else if (name.SequenceEqual("message_id"u8)) reader.TryGetGuid(out messageId);
                else if (name.SequenceEqual("client_id"u8)) reader.TryGetGuid(out clientId);
                else if (name.SequenceEqual("code"u8)) code = reader.GetString();
                else if (name.SequenceEqual("from"u8)) from = json.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length);
                // Standard base64 has '/' and '+', which JSON may escape (the server writes them as they are).
                else if (name.SequenceEqual("body"u8)) body = reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : json.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length);
            }
            return new FrameView { Kind = kind, Id = id, HasId = hasId, MessageId = messageId, ClientId = clientId, Code = code, From = from, Body = body };
        }
        catch (JsonException)
        {
            return new FrameView { Kind = FrameKind.Malformed };
        }
    }
}
