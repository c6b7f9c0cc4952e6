using System.Buffers.Binary;
using System.Text;
using Sealpost.Crypto;

namespace Sealpost.Client.Messaging;

/// <summary>
/// What a sealed plaintext holds: UTF-8 text (every message before files existed, and every text message since), or a
/// file, marked by a first byte of 0xFF, which never occurs in UTF-8, so no text message can be mistaken for a file.
/// File layout: <c>FF 01 | name length (uint16, big-endian, 1..255) | name (UTF-8) | the file's bytes</c>.
/// The envelope format itself is unchanged; this is the plaintext inside it (docs/cli.md, "What a message holds").
/// </summary>
public sealed record MessagePayload
{
    public const byte Marker = 0xFF;
    public const byte FileKind = 0x01;
    public const int MaxFileNameBytes = 255;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private MessagePayload(string? text, string? fileName, byte[]? fileData)
    {
        Text = text;
        FileName = fileName;
        FileData = fileData;
    }

    /// <summary>The text of a text message; null for a file.</summary>
    public string? Text { get; }

    /// <summary>The name the sender gave the file (as sent: sanitise it before using it as a path).</summary>
    public string? FileName { get; }

    public byte[]? FileData { get; }

    /// <summary>The most file bytes one message carries when the name takes <paramref name="nameBytes"/> bytes.</summary>
    public static int MaxFileSize(int nameBytes) => Envelope.MaxPlaintextSize - 4 - nameBytes;

    public static MessagePayload ForText(string text) => new(text ?? throw new ArgumentNullException(nameof(text)), null, null);

    public static MessagePayload ForFile(string name, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(data);
        var nameBytes = Encoding.UTF8.GetByteCount(name);
        if (nameBytes is 0 or > MaxFileNameBytes)
            throw new SealpostException(ErrorKind.Invalid, $"A file name takes 1 to {MaxFileNameBytes} bytes of UTF-8; \"{name}\" takes {nameBytes}.");
        if (data.Length > MaxFileSize(nameBytes))
            throw new SealpostException(ErrorKind.Invalid, $"The file is {data.Length} bytes; one message carries a file of at most {MaxFileSize(nameBytes)} bytes (with this name).");
        return new(null, name, data);
    }

    public byte[] Encode()
    {
        if (Text is not null)
        {
            var text = Encoding.UTF8.GetBytes(Text);
            if (text.Length > Envelope.MaxPlaintextSize)
                throw new SealpostException(ErrorKind.Invalid, $"The message is {text.Length} bytes; a message carries at most {Envelope.MaxPlaintextSize} bytes of UTF-8.");
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
}
