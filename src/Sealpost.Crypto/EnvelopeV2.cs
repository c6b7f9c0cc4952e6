using System.Buffers.Binary;
using System.Text;

namespace Sealpost.Crypto;

/// <summary>The sending device: its account, device id, key id and that key's private half.</summary>
public sealed record DeviceSender(string Username, uint DeviceId, uint KeyId, ReadOnlyMemory<byte> PrivateKey);

/// <summary>The receiving device: its account, device id, key id and that key's public half (verified by its certificate).</summary>
public sealed record DeviceRecipient(string Username, uint DeviceId, uint KeyId, ReadOnlyMemory<byte> PublicKey);

/// <summary>What an envelope v2 carries. Other values than these are kept as they are, for a later version to show.</summary>
public enum ContentType : byte
{
    /// <summary>A message to the recipient.</summary>
    Message = 1,

    /// <summary>A copy of a message the account sent (to <see cref="SealedContent.OriginalRecipient"/>), for its other devices.</summary>
    SentCopy = 2,
}

/// <summary>
/// The sealed part of an envelope v2: the sender's own message id (its client id) and clock, so that a replayed or
/// duplicated envelope is recognised whatever <c>message_id</c> the server gives it, and the content type.
/// </summary>
public sealed record SealedContent(ContentType Type, Guid MessageId, DateTimeOffset SentAt, string? OriginalRecipient, byte[] Body);

/// <summary>The clear header of an envelope v2; authentic only once opened.</summary>
public readonly record struct EnvelopeV2Header(uint SenderDeviceId, uint SenderKeyId, uint RecipientDeviceId, uint RecipientKeyId);

/// <summary>
/// Envelope v2 (docs/devices.md, "Envelope v2"): v1's HPKE auth mode between two devices' X25519 keys, with both
/// devices in the header and bound into <c>info</c>, and a sealed inner header (content type, message id, sending time).
/// </summary>
public static class EnvelopeV2
{
    public const byte Version = 2;
    public const int HeaderSize = 20;
    public const int Overhead = HeaderSize + Hpke.EncapsulatedKeySize + Hpke.TagSize;
    private const int InnerHeaderSize = 1 + 16 + 8;
    private const int CiphertextOffset = HeaderSize + Hpke.EncapsulatedKeySize;

    /// <summary>Most body bytes one envelope carries (the envelope stays within v1's 48 KiB limit).</summary>
    public const int MaxBodySize = Envelope.MaxEnvelopeSize - Overhead - InnerHeaderSize - 1 - 32;

    private static ReadOnlySpan<byte> Magic => "SPE"u8;

    public static byte[] Seal(DeviceSender sender, DeviceRecipient recipient, SealedContent content) => Seal(sender, recipient, content, []);

    /// <summary>A fixed <c>ikmE</c> makes the envelope reproducible; only the worked example uses it.</summary>
    internal static byte[] Seal(DeviceSender sender, DeviceRecipient recipient, SealedContent content, ReadOnlySpan<byte> ikmE)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(recipient);
        ArgumentNullException.ThrowIfNull(content);
        if (content.Type == ContentType.SentCopy && sender.Username != recipient.Username)
            throw new ArgumentException($"A sent copy goes to the sender's own devices only, not from {sender.Username} to {recipient.Username}.", nameof(content));
        return SealWithoutRules(sender, recipient, content, ikmE);
    }

    /// <summary>The layout alone, without the rules on who seals what to whom: what a client that ignores them could send (tests).</summary>
    internal static byte[] SealWithoutRules(DeviceSender sender, DeviceRecipient recipient, SealedContent content, ReadOnlySpan<byte> ikmE)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(recipient);
        ArgumentNullException.ThrowIfNull(content);
        Username.Require(sender.Username, nameof(sender));
        Username.Require(recipient.Username, nameof(recipient));
        var plaintext = Inner(content);
        var envelope = new byte[Overhead + plaintext.Length];
        var span = envelope.AsSpan();
        Magic.CopyTo(span);
        span[3] = Version;
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], sender.DeviceId);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], sender.KeyId);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], recipient.DeviceId);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], recipient.KeyId);
        var info = Info(sender.Username, sender.DeviceId, recipient.Username, recipient.DeviceId, recipient.KeyId);
        using var context = Hpke.SetupSender(
            HpkeMode.Auth, recipient.PublicKey.Span, info, [], [], sender.PrivateKey.Span, ikmE, span.Slice(HeaderSize, Hpke.EncapsulatedKeySize));
        context.Seal(span[..HeaderSize], plaintext, span[CiphertextOffset..]);
        return envelope;
    }

    /// <summary>
    /// Opens an envelope addressed to this device's key, and proves it was sealed by <paramref name="senderUsername"/>'s
    /// device <paramref name="senderDeviceId"/> holding <paramref name="senderPublicKey"/>. Any failure throws <see cref="CryptoException"/>.
    /// </summary>
    public static SealedContent Open(
        ReadOnlySpan<byte> envelope, string recipientUsername, uint recipientDeviceId, uint recipientKeyId, ReadOnlySpan<byte> recipientPrivateKey,
        string senderUsername, uint senderDeviceId, ReadOnlySpan<byte> senderPublicKey)
    {
        Username.Require(recipientUsername, nameof(recipientUsername));
        Username.Require(senderUsername, nameof(senderUsername));
        var header = ReadHeader(envelope);
        if (header.RecipientDeviceId != recipientDeviceId || header.RecipientKeyId != recipientKeyId)
        {
            throw new CryptoException(
                $"This message was sealed to device {header.RecipientDeviceId}'s key {header.RecipientKeyId}, not to this device's ({recipientDeviceId}, key {recipientKeyId}).");
        }
        if (header.SenderDeviceId != senderDeviceId)
            throw new CryptoException($"This message says it comes from device {header.SenderDeviceId}, not device {senderDeviceId}.");
        var info = Info(senderUsername, senderDeviceId, recipientUsername, recipientDeviceId, recipientKeyId);
        using var context = Hpke.SetupRecipient(
            HpkeMode.Auth, envelope.Slice(HeaderSize, Hpke.EncapsulatedKeySize), recipientPrivateKey, info, [], [], senderPublicKey);
        var content = ReadInner(context.Open(envelope[..HeaderSize], envelope[CiphertextOffset..]));
        // "You sent this to carol" is for the account's own devices to say: from another account it is a plant.
        if (content.Type == ContentType.SentCopy && senderUsername != recipientUsername)
            throw new CryptoException($"This is a copy of a sent message, which only your own devices send, but it comes from another account ({senderUsername}).");
        return content;
    }

    /// <summary>The clear header, to pick the keys that open the envelope.</summary>
    public static EnvelopeV2Header ReadHeader(ReadOnlySpan<byte> envelope)
    {
        if (envelope.Length < Magic.Length + 1 || !envelope.StartsWith(Magic))
            throw new CryptoException("This is not a Sealpost envelope.");
        if (envelope[Magic.Length] != Version)
            throw new CryptoException($"This envelope is version {envelope[Magic.Length]}, not version {Version}.");
        if (envelope.Length < Overhead + InnerHeaderSize)
            throw new CryptoException("This Sealpost envelope is truncated.");
        if (envelope.Length > Envelope.MaxEnvelopeSize)
            throw new CryptoException($"This Sealpost envelope is larger than the {Envelope.MaxEnvelopeSize}-byte limit.");
        return new EnvelopeV2Header(
            BinaryPrimitives.ReadUInt32BigEndian(envelope[4..]), BinaryPrimitives.ReadUInt32BigEndian(envelope[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(envelope[12..]), BinaryPrimitives.ReadUInt32BigEndian(envelope[16..]));
    }

    /// <summary>info = "sealpost/envelope/v2" || 0x00 || len || sender || I2OSP(sender device, 4) || len || recipient || I2OSP(recipient device, 4) || I2OSP(recipient key id, 4).</summary>
    internal static byte[] Info(string sender, uint senderDevice, string recipient, uint recipientDevice, uint recipientKeyId)
    {
        ReadOnlySpan<byte> label = "sealpost/envelope/v2\0"u8;
        var info = new byte[label.Length + 1 + sender.Length + 4 + 1 + recipient.Length + 8];
        var span = info.AsSpan();
        label.CopyTo(span);
        var at = label.Length + Username.WriteLengthPrefixed(sender, span[label.Length..]);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], senderDevice);
        at += 4 + Username.WriteLengthPrefixed(recipient, span[(at + 4)..]);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], recipientDevice);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], recipientKeyId);
        return info;
    }

    // content type (1) || message id (16, big-endian UUID) || sent at (I2OSP(ms since 1970, 8)) || [SentCopy: len || recipient] || body
    internal static byte[] Inner(SealedContent content)
    {
        if (content.SentAt < DateTimeOffset.UnixEpoch) throw new ArgumentException("A message cannot be sent before 1970.", nameof(content));
        var copy = content.Type == ContentType.SentCopy;
        if (copy) Username.Require(content.OriginalRecipient, nameof(content));
        else if (content.OriginalRecipient is not null) throw new ArgumentException("Only a sent copy names an original recipient.", nameof(content));
        if (content.Body.Length > MaxBodySize)
            throw new ArgumentOutOfRangeException(nameof(content), content.Body.Length, $"An envelope carries at most {MaxBodySize} bytes of body.");
        var inner = new byte[InnerHeaderSize + (copy ? 1 + content.OriginalRecipient!.Length : 0) + content.Body.Length];
        var span = inner.AsSpan();
        span[0] = (byte)content.Type;
        content.MessageId.TryWriteBytes(span[1..17], bigEndian: true, out _);
        BinaryPrimitives.WriteUInt64BigEndian(span[17..], (ulong)content.SentAt.ToUnixTimeMilliseconds());
        var at = InnerHeaderSize + (copy ? Username.WriteLengthPrefixed(content.OriginalRecipient!, span[InnerHeaderSize..]) : 0);
        content.Body.CopyTo(span[at..]);
        return inner;
    }

    private static SealedContent ReadInner(byte[] inner)
    {
        var span = inner.AsSpan();
        var type = (ContentType)span[0];
        var id = new Guid(span[1..17], bigEndian: true);
        var ms = BinaryPrimitives.ReadUInt64BigEndian(span[17..]);
        if (ms > (ulong)DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()) throw new CryptoException("This message's sending time is out of range.");
        var at = InnerHeaderSize;
        string? original = null;
        if (type == ContentType.SentCopy)
        {
            var length = at < span.Length ? span[at] : 0;
            if (at + 1 + length > span.Length) throw new CryptoException("This sent copy is truncated.");
            original = Encoding.ASCII.GetString(span.Slice(at + 1, length));
            if (!Username.IsValid(original)) throw new CryptoException("This sent copy names no valid recipient.");
            at += 1 + length;
        }
        return new SealedContent(type, id, DateTimeOffset.FromUnixTimeMilliseconds((long)ms), original, span[at..].ToArray());
    }
}
