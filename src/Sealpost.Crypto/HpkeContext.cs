using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Sealpost.Crypto;

/// <summary>
/// An HPKE encryption context (RFC 9180 §5.2): a sender seals, a recipient opens, both can export.
/// Messages must be opened in the order they were sealed, because each uses the next sequence number.
/// </summary>
public sealed class HpkeContext : IDisposable
{
    public const int TagSize = 16;
    internal const int KeySize = 16;
    internal const int NonceSize = 12;
    internal const int ExporterSecretSize = LabeledKdf.HashLength;

    private readonly AesGcm _aead;
    private readonly byte[] _baseNonce;
    private readonly byte[] _exporterSecret;
    private readonly bool _isSender;
    private bool _disposed;

    internal HpkeContext(ReadOnlySpan<byte> key, ReadOnlySpan<byte> baseNonce, ReadOnlySpan<byte> exporterSecret, bool isSender)
    {
        _aead = new AesGcm(key, TagSize);
        _baseNonce = baseNonce.ToArray();
        _exporterSecret = exporterSecret.ToArray();
        _isSender = isSender;
    }

    /// <summary>The sequence number the next Seal or Open uses.</summary>
    public ulong SequenceNumber { get; internal set; }

    public byte[] Seal(ReadOnlySpan<byte> aad, ReadOnlySpan<byte> plaintext)
    {
        var ciphertext = new byte[plaintext.Length + TagSize];
        Seal(aad, plaintext, ciphertext);
        return ciphertext;
    }

    /// <summary>Seals into <paramref name="ciphertext"/>, which must be exactly <c>plaintext.Length + TagSize</c> bytes.</summary>
    public void Seal(ReadOnlySpan<byte> aad, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_isSender)
            throw new InvalidOperationException("A recipient context can only open messages.");
        if (ciphertext.Length != plaintext.Length + TagSize)
            throw new ArgumentException($"The ciphertext buffer must be {plaintext.Length + TagSize} bytes; got {ciphertext.Length}.", nameof(ciphertext));

        ThrowIfExhausted();
        Span<byte> nonce = stackalloc byte[NonceSize];
        ComputeNonce(SequenceNumber, nonce);
        _aead.Encrypt(nonce, plaintext, ciphertext[..plaintext.Length], ciphertext[plaintext.Length..], aad);
        SequenceNumber++;
    }

    public byte[] Open(ReadOnlySpan<byte> aad, ReadOnlySpan<byte> ciphertext)
    {
        if (ciphertext.Length < TagSize)
            throw OpenFailed();
        var plaintext = new byte[ciphertext.Length - TagSize];
        Open(aad, ciphertext, plaintext);
        return plaintext;
    }

    /// <summary>Opens into <paramref name="plaintext"/>, which must be exactly <c>ciphertext.Length - TagSize</c> bytes.</summary>
    public void Open(ReadOnlySpan<byte> aad, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_isSender)
            throw new InvalidOperationException("A sender context can only seal messages.");
        if (ciphertext.Length < TagSize)
            throw OpenFailed();
        if (plaintext.Length != ciphertext.Length - TagSize)
            throw new ArgumentException($"The plaintext buffer must be {ciphertext.Length - TagSize} bytes; got {plaintext.Length}.", nameof(plaintext));

        ThrowIfExhausted();
        Span<byte> nonce = stackalloc byte[NonceSize];
        ComputeNonce(SequenceNumber, nonce);
        var length = ciphertext.Length - TagSize;
        try
        {
            _aead.Decrypt(nonce, ciphertext[..length], ciphertext[length..], plaintext, aad);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw OpenFailed();
        }
        SequenceNumber++;
    }

    /// <summary>RFC 9180 §5.3: a secret of <paramref name="length"/> bytes bound to this context and <paramref name="exporterContext"/>.</summary>
    public byte[] Export(ReadOnlySpan<byte> exporterContext, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, 255 * LabeledKdf.HashLength);
        var exported = new byte[length];
        LabeledKdf.Expand(Hpke.SuiteId, _exporterSecret, "sec"u8, exporterContext, exported);
        return exported;
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _aead.Dispose();
        CryptographicOperations.ZeroMemory(_baseNonce);
        CryptographicOperations.ZeroMemory(_exporterSecret);
    }

    /// <summary>nonce = base_nonce XOR I2OSP(seq, 12).</summary>
    internal void ComputeNonce(ulong sequenceNumber, Span<byte> nonce)
    {
        _baseNonce.CopyTo(nonce);
        var tail = nonce[(NonceSize - sizeof(ulong))..];
        BinaryPrimitives.WriteUInt64BigEndian(tail, BinaryPrimitives.ReadUInt64BigEndian(tail) ^ sequenceNumber);
    }

    private void ThrowIfExhausted()
    {
        // RFC 9180 allows 2^96 - 1 messages; a ulong runs out first, and a wrapped counter would reuse a nonce.
        if (SequenceNumber == ulong.MaxValue)
            throw new CryptoException("This HPKE context has sealed or opened as many messages as it safely can; set up a new one.");
    }

    private static CryptoException OpenFailed() => new(
        "The message could not be opened: it was sealed for another key, by someone other than the claimed sender, or it was altered.");
}
