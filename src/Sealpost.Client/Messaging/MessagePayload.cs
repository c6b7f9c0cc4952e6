using System.Buffers.Binary;
using System.Text;
using Sealpost.Crypto;

namespace Sealpost.Client.Messaging;

/// <summary>
/// What a sealed plaintext holds: UTF-8 text (every message before files existed, and every text message since), or a
/// file, marked by a first byte of 0xFF, which never occurs in UTF-8, so no text message can be mistaken for a file.
/// File layout: <c>FF 01 | name length (uint16, big-endian, 1..255) | name (UTF-8) | the file's bytes</c>.
/// A delivery receipt (sent by the web client once it stored messages) is
/// <c>FF 02 | count (uint16, big-endian, 1..1024) | count × (length (1 byte, 1..255) | client id (UTF-8))</c>.
/// The envelope format itself is unchanged; this is the plaintext inside it (docs/cli.md, "What a message holds").
/// </summary>
internal sealed record MessagePayload
{
    public const byte Marker = 0xFF;
    public const byte FileKind = 0x01;
    public const byte ReceiptKind = 0x02;
    public const int MaxFileNameBytes = 255;
    public const int MaxReceiptIds = 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private MessagePayload(string? text, string? fileName, byte[]? fileData, IReadOnlyList<string>? deliveredClientIds = null)
    {
        Text = text;
        FileName = fileName;
        FileData = fileData;
        DeliveredClientIds = deliveredClientIds;
    }

    /// <summary>The text of a text message; null for a file.</summary>
    public string? Text { get; }

    /// <summary>The name the sender gave the file (as sent: sanitise it before using it as a path).</summary>
    public string? FileName { get; }

    public byte[]? FileData { get; }

    /// <summary>For a delivery receipt: the client ids of the messages the peer's device has stored; null otherwise.</summary>
    public IReadOnlyList<string>? DeliveredClientIds { get; }

    /// <summary>The most file bytes one message carries when the name takes <paramref name="nameBytes"/> bytes.</summary>
    public static int MaxFileSize(int nameBytes) => MaxPayloadSize - 4 - nameBytes;

    /// <summary>What one message carries, at most: an envelope v2's body (a little less than v1's plaintext, which it replaced).</summary>
    public const int MaxPayloadSize = EnvelopeV2.MaxBodySize;

    public static MessagePayload ForText(string text) => new(text ?? throw new ArgumentNullException(nameof(text)), null, null);

    public static MessagePayload ForFile(string name, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(data);
        var nameBytes = Encoding.UTF8.GetByteCount(name);
        if (nameBytes is 0 or > MaxFileNameBytes)
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.InvalidFileName, $"A file name takes 1 to {MaxFileNameBytes} bytes of UTF-8; \"{name}\" takes {nameBytes}.");
        if (data.Length > MaxFileSize(nameBytes))
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.FileTooLarge, $"The file is {data.Length} bytes; one message carries a file of at most {MaxFileSize(nameBytes)} bytes (with this name).");
        return new(null, name, data);
    }

    public static MessagePayload ForReceipt(IReadOnlyList<string> clientIds)
    {
        ArgumentNullException.ThrowIfNull(clientIds);
        if (clientIds.Count is 0 or > MaxReceiptIds || clientIds.Any(id => Encoding.UTF8.GetByteCount(id) is 0 or > 255))
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.InvalidReceipt, $"A receipt names 1 to {MaxReceiptIds} client ids of 1 to 255 bytes each.");
        return new(null, null, null, clientIds);
    }

    public byte[] Encode()
    {
        if (DeliveredClientIds is { } ids)
        {
            var receipt = new List<byte> { Marker, ReceiptKind, (byte)(ids.Count >> 8), (byte)ids.Count };
            foreach (var id in ids)
            {
                var idBytes = Encoding.UTF8.GetBytes(id);
                receipt.Add((byte)idBytes.Length);
                receipt.AddRange(idBytes);
            }
            return [.. receipt];
        }
        if (Text is not null)
        {
            var text = Encoding.UTF8.GetBytes(Text);
            if (text.Length > MaxPayloadSize)
                throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.MessageTooLarge, $"The message is {text.Length} bytes; a message carries at most {MaxPayloadSize} bytes of UTF-8.");
            return text;
        }
        var name = Encoding.UTF8.GetBytes(FileName!);
        var bytes = new byte[4 + name.Length + FileData!.Length];
        bytes[0] = Marker;
        bytes[1] = FileKind;
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), (ushort)name.Length);
        name.CopyTo(bytes, 4);
        FileData.CopyTo(bytes, 4 + name.Length);
        return bytes;
    }

    /// <summary>Reads an opened plaintext; null (with the reason) when it is neither UTF-8 text nor a file this client knows.</summary>
    public static MessagePayload? Decode(ReadOnlySpan<byte> plaintext, out string? problem)
    {
        problem = null;
        if (plaintext.Length == 0 || plaintext[0] != Marker)
        {
            try
            {
                return ForText(StrictUtf8.GetString(plaintext));
            }
            catch (DecoderFallbackException)
            {
                problem = "It opened, but it is not UTF-8 text.";
                return null;
            }
        }
        if (plaintext.Length >= 4 && plaintext[1] == ReceiptKind) return DecodeReceipt(plaintext, out problem);
        if (plaintext.Length < 4 || plaintext[1] != FileKind)
        {
            problem = $"It opened, but holds content of a kind this client does not know ({(plaintext.Length > 1 ? plaintext[1] : 0)}).";
            return null;
        }
        var nameLength = BinaryPrimitives.ReadUInt16BigEndian(plaintext[2..]);
        if (nameLength is 0 or > MaxFileNameBytes || plaintext.Length < 4 + nameLength)
        {
            problem = "It opened, but its file name is malformed.";
            return null;
        }
        string name;
        try
        {
            name = StrictUtf8.GetString(plaintext.Slice(4, nameLength));
        }
        catch (DecoderFallbackException)
        {
            problem = "It opened, but its file name is not UTF-8.";
            return null;
        }
        return new(null, name, plaintext[(4 + nameLength)..].ToArray());
    }

    private static MessagePayload? DecodeReceipt(ReadOnlySpan<byte> plaintext, out string? problem)
    {
        problem = "It opened, but its delivery receipt is malformed.";
        var count = BinaryPrimitives.ReadUInt16BigEndian(plaintext[2..]);
        if (count is 0 or > MaxReceiptIds) return null;
        var ids = new List<string>(count);
        var rest = plaintext[4..];
        for (var i = 0; i < count; i++)
        {
            if (rest.Length < 1 || rest[0] == 0 || rest.Length < 1 + rest[0]) return null;
            try
            {
                ids.Add(StrictUtf8.GetString(rest.Slice(1, rest[0])));
            }
            catch (DecoderFallbackException)
            {
                return null;
            }
            rest = rest[(1 + rest[0])..];
        }
        if (rest.Length != 0) return null;
        problem = null;
        return new(null, null, null, ids);
    }
}
