using System.Buffers.Binary;

namespace Sealpost.Crypto;

/// <summary>The sender of an envelope: its username, the id of its key and that key's private half.</summary>
public sealed record EnvelopeParty(string Username, uint KeyId, ReadOnlyMemory<byte> PrivateKey);

/// <summary>The recipient of an envelope: its username, the id of its key and that key's public half.</summary>
public sealed record EnvelopeRecipient(string Username, uint KeyId, ReadOnlyMemory<byte> PublicKey);

/// <summary>The clear part of an envelope: enough to pick the keys that open it. Not authentic until opened.</summary>
public readonly record struct EnvelopeHeader(byte Version, uint SenderKeyId, uint RecipientKeyId);

/// <summary>
/// Envelope v1: HPKE auth-mode single-shot encryption from the sender's X25519 key to the recipient's.
/// Layout, info and aad are specified in docs/envelope.md.
/// </summary>
public static class Envelope
{
    public const byte Version = 1;

    /// <summary>"SPE" || version || sender key id || recipient key id; the AEAD's associated data.</summary>
    public const int HeaderSize = 12;

    public const int Overhead = HeaderSize + Hpke.EncapsulatedKeySize + Hpke.TagSize;

    /// <summary>48 KiB: its standard base64 is exactly 65 536 characters, the socket's body limit.</summary>
    public const int MaxEnvelopeSize = 48 * 1024;

    public const int MaxPlaintextSize = MaxEnvelopeSize - Overhead;

    private const int EncOffset = HeaderSize;
    private const int CiphertextOffset = HeaderSize + Hpke.EncapsulatedKeySize;
    // 21 bytes of "sealpost/envelope/v1\0", two length-prefixed usernames, the recipient key id.
    private const int MaxInfoSize = 21 + 2 * (1 + Username.MaxLength) + sizeof(uint);

    private static ReadOnlySpan<byte> Magic => "SPE"u8;

    private static ReadOnlySpan<byte> InfoLabel => "sealpost/envelope/v1\0"u8;

    public static byte[] Seal(EnvelopeParty sender, EnvelopeRecipient recipient, ReadOnlySpan<byte> plaintext) =>
        Seal(sender, recipient, plaintext, []);

    /// <summary>A fixed <c>ikmE</c> makes the envelope reproducible; only the worked example uses it.</summary>
    internal static byte[] Seal(EnvelopeParty sender, EnvelopeRecipient recipient, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> ikmE)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(recipient);
        Username.Require(sender.Username, nameof(sender));
        Username.Require(recipient.Username, nameof(recipient));
        if (plaintext.Length > MaxPlaintextSize)
            throw new ArgumentOutOfRangeException(nameof(plaintext), plaintext.Length, $"An envelope carries at most {MaxPlaintextSize} bytes of plaintext.");

        var envelope = new byte[Overhead + plaintext.Length];
        var span = envelope.AsSpan();
        WriteHeader(span, sender.KeyId, recipient.KeyId);

        Span<byte> info = stackalloc byte[MaxInfoSize];
        info = info[..WriteInfo(info, sender.Username, recipient.Username, recipient.KeyId)];

        using var context = Hpke.SetupSender(
            HpkeMode.Auth, recipient.PublicKey.Span, info, [], [], sender.PrivateKey.Span, ikmE,
            span.Slice(EncOffset, Hpke.EncapsulatedKeySize));
        context.Seal(span[..HeaderSize], plaintext, span[CiphertextOffset..]);
        return envelope;
    }

    /// <summary>
    /// Opens an envelope addressed to <paramref name="recipientUsername"/>'s key <paramref name="recipientKeyId"/>,
    /// and proves it was sealed by the holder of <paramref name="senderPublicKey"/>'s private key as
    /// <paramref name="senderUsername"/>. Any failure throws <see cref="CryptoException"/>.
    /// </summary>
    public static byte[] Open(
        ReadOnlySpan<byte> envelope, string recipientUsername, uint recipientKeyId, ReadOnlySpan<byte> recipientPrivateKey,
        string senderUsername, ReadOnlySpan<byte> senderPublicKey)
    {
        Username.Require(recipientUsername, nameof(recipientUsername));
        Username.Require(senderUsername, nameof(senderUsername));
        var header = ReadHeader(envelope);
        if (header.RecipientKeyId != recipientKeyId)
        {
            throw new CryptoException(
                $"This message was sealed to key id {header.RecipientKeyId}, but the private key given is key id {recipientKeyId}.");
        }

        Span<byte> info = stackalloc byte[MaxInfoSize];
        info = info[..WriteInfo(info, senderUsername, recipientUsername, recipientKeyId)];

        using var context = Hpke.SetupRecipient(
            HpkeMode.Auth, envelope.Slice(EncOffset, Hpke.EncapsulatedKeySize), recipientPrivateKey, info, [], [], senderPublicKey);
        return context.Open(envelope[..HeaderSize], envelope[CiphertextOffset..]);
    }

    /// <summary>Reads the clear header, for example to learn which sender key to look up; it is authenticated only by <see cref="Open"/>.</summary>
    public static EnvelopeHeader ReadHeader(ReadOnlySpan<byte> envelope)
    {
        if (envelope.Length < Magic.Length + 1 || !envelope.StartsWith(Magic))
            throw new CryptoException("This is not a Sealpost envelope.");
        if (envelope[Magic.Length] != Version)
            throw new CryptoException($"This envelope is version {envelope[Magic.Length]}; this version of Sealpost opens version {Version} only.");
        if (envelope.Length < Overhead)
            throw new CryptoException("This Sealpost envelope is truncated.");
        if (envelope.Length > MaxEnvelopeSize)
            throw new CryptoException($"This Sealpost envelope is larger than the {MaxEnvelopeSize}-byte limit.");

        return new EnvelopeHeader(
            Version,
            BinaryPrimitives.ReadUInt32BigEndian(envelope[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(envelope[8..]));
    }

    /// <summary>info = "sealpost/envelope/v1" || 0x00 || len || sender || len || recipient || I2OSP(recipientKeyId, 4).</summary>
    internal static int WriteInfo(Span<byte> destination, string senderUsername, string recipientUsername, uint recipientKeyId)
    {
        InfoLabel.CopyTo(destination);
        var written = InfoLabel.Length;
        written += Username.WriteLengthPrefixed(senderUsername, destination[written..]);
        written += Username.WriteLengthPrefixed(recipientUsername, destination[written..]);
        BinaryPrimitives.WriteUInt32BigEndian(destination[written..], recipientKeyId);
        return written + sizeof(uint);
    }

    private static void WriteHeader(Span<byte> destination, uint senderKeyId, uint recipientKeyId)
    {
        Magic.CopyTo(destination);
        destination[3] = Version;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], senderKeyId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], recipientKeyId);
    }
}
