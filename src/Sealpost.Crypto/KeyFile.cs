using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using NSec.Cryptography;

namespace Sealpost.Crypto;

/// <summary>What a key file holds once unlocked.</summary>
public sealed record StoredKey(string Username, X25519KeyPair KeyPair);

/// <summary>
/// A private key on disk, encrypted under a passphrase with Argon2id and AES-256-GCM, written atomically with
/// mode 0600. The format is specified in docs/envelope.md.
/// </summary>
public static class KeyFile
{
    public const int Version = 1;
    public const string Format = "sealpost-private-key";
    public const long Argon2MemoryKib = 65536;
    public const long Argon2Passes = 3;

    private const string KdfName = "argon2id";
    private const string CipherName = "aes-256-gcm";
    private const int SaltSize = 16;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int MaxFileSize = 64 * 1024;

    // A file may carry other costs than ours; these bounds keep a hostile file from asking for absurd work.
    private const long MinMemoryKib = 19456;
    private const long MaxMemoryKib = 4 * 1024 * 1024;
    private const long MaxPasses = 64;

    private static ReadOnlySpan<byte> AadLabel => "sealpost/keyfile/v1\0"u8;

    public static void Save(string path, string username, X25519KeyPair keyPair, string passphrase, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Username.Require(username, nameof(username));
        ArgumentNullException.ThrowIfNull(keyPair);
        ArgumentException.ThrowIfNullOrEmpty(passphrase);

        var salt = RandomNumberGenerator.GetBytes(SaltSize);
        var nonce = RandomNumberGenerator.GetBytes(NonceSize);
        var ciphertext = new byte[X25519KeyPair.KeySize + TagSize];
        Span<byte> key = stackalloc byte[32];
        try
        {
            DeriveKey(passphrase, salt, Argon2MemoryKib, Argon2Passes, key);
            using var aes = new AesGcm(key, TagSize);
            aes.Encrypt(
                nonce, keyPair.PrivateKey, ciphertext.AsSpan(0, X25519KeyPair.KeySize), ciphertext.AsSpan(X25519KeyPair.KeySize),
                Aad(username, keyPair.PublicKey));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }

        var document = new KeyFileDocument
        {
            Format = Format,
            Version = Version,
            Username = username,
            PublicKey = Base64Url.EncodeToString(keyPair.PublicKey),
            Kdf = new KeyFileKdf { Algorithm = KdfName, MemoryKib = Argon2MemoryKib, Passes = Argon2Passes, Parallelism = 1, Salt = Base64Url.EncodeToString(salt) },
            Cipher = new KeyFileCipher { Algorithm = CipherName, Nonce = Base64Url.EncodeToString(nonce), Ciphertext = Base64Url.EncodeToString(ciphertext) },
        };
        WriteAtomically(path, JsonSerializer.SerializeToUtf8Bytes(document, KeyFileJsonContext.Default.KeyFileDocument), overwrite);
    }

    public static StoredKey Load(string path, string passphrase)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(passphrase);

        var document = Parse(path, Read(path));
        var username = document.Username;
        if (!Username.IsValid(username))
            throw Damaged(path);
        var publicKey = Decode(document.PublicKey, X25519KeyPair.KeySize, path);
        var kdf = document.Kdf ?? throw Damaged(path);
        var cipher = document.Cipher ?? throw Damaged(path);
        if (kdf.Algorithm != KdfName || kdf.Parallelism != 1 || cipher.Algorithm != CipherName
            || kdf.MemoryKib is not (>= MinMemoryKib and <= MaxMemoryKib) || kdf.Passes is not (>= 1 and <= MaxPasses))
        {
            throw Damaged(path);
        }
        var salt = Decode(kdf.Salt, SaltSize, path);
        var nonce = Decode(cipher.Nonce, NonceSize, path);
        var ciphertext = Decode(cipher.Ciphertext, X25519KeyPair.KeySize + TagSize, path);

        Span<byte> key = stackalloc byte[32];
        Span<byte> privateKey = stackalloc byte[X25519KeyPair.KeySize];
        try
        {
            DeriveKey(passphrase, salt, kdf.MemoryKib.Value, kdf.Passes.Value, key);
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(
                nonce, ciphertext.AsSpan(0, X25519KeyPair.KeySize), ciphertext.AsSpan(X25519KeyPair.KeySize), privateKey,
                Aad(username!, publicKey));
            var keyPair = X25519KeyPair.FromPrivateKey(privateKey);
            if (!keyPair.PublicKey.SequenceEqual(publicKey))
                throw Damaged(path);
            return new StoredKey(username!, keyPair);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new KeyFileException(
                KeyFileError.WrongPassphraseOrDamaged,
                $"Wrong passphrase or damaged key file '{path}'. The two cannot be told apart: the file is sealed as a whole, so either makes it fail the same check.");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(privateKey);
        }
    }

    private static void DeriveKey(string passphrase, ReadOnlySpan<byte> salt, long memoryKib, long passes, Span<byte> key)
    {
        var argon2 = PasswordBasedKeyDerivationAlgorithm.Argon2id(
            new Argon2Parameters { DegreeOfParallelism = 1, MemorySize = memoryKib, NumberOfPasses = passes });
        var password = Encoding.UTF8.GetBytes(passphrase);
        try
        {
            argon2.DeriveBytes(password, salt, key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(password);
        }
    }

    /// <summary>aad = "sealpost/keyfile/v1" || 0x00 || len || username || public key.</summary>
    private static byte[] Aad(string username, ReadOnlySpan<byte> publicKey)
    {
        var aad = new byte[AadLabel.Length + 1 + username.Length + publicKey.Length];
        AadLabel.CopyTo(aad);
        var written = AadLabel.Length + Username.WriteLengthPrefixed(username, aad.AsSpan(AadLabel.Length));
        publicKey.CopyTo(aad.AsSpan(written));
        return aad;
    }

    private static byte[] Read(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            if (stream.Length > MaxFileSize)
                throw Damaged(path);
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new KeyFileException(KeyFileError.NotFound, $"There is no key file at '{path}'.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyFileException(KeyFileError.CannotRead, $"The key file '{path}' cannot be read: {e.Message}", e);
        }
    }

    private static KeyFileDocument Parse(string path, byte[] bytes)
    {
        KeyFileDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(bytes, KeyFileJsonContext.Default.KeyFileDocument);
        }
        catch (JsonException e)
        {
            throw new KeyFileException(KeyFileError.Damaged, $"The key file '{path}' is damaged: it is not a valid key-file JSON document.", e);
        }
        if (document is null || document.Format != Format || document.Version is null)
            throw new KeyFileException(KeyFileError.Damaged, $"The file '{path}' is damaged or is not a Sealpost key file.");
        if (document.Version != Version)
        {
            throw new KeyFileException(
                KeyFileError.UnsupportedVersion,
                $"The key file '{path}' is format version {document.Version}; this version of Sealpost reads version {Version}. Upgrade Sealpost to use it.");
        }
        return document;
    }

    private static byte[] Decode(string? base64Url, int expectedLength, string path)
    {
        if (base64Url is null || Base64Url.GetMaxDecodedLength(base64Url.Length) < expectedLength)
            throw Damaged(path);
        var bytes = new byte[Base64Url.GetMaxDecodedLength(base64Url.Length)];
        if (!Base64Url.TryDecodeFromChars(base64Url, bytes, out var written) || written != expectedLength)
            throw Damaged(path);
        return bytes[..expectedLength];
    }

    private static KeyFileException Damaged(string path) =>
        new(KeyFileError.Damaged, $"The key file '{path}' is damaged: a field is missing or malformed.");

    private static void WriteAtomically(string path, byte[] contents, bool overwrite)
    {
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        var temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp");
        try
        {
            if (!overwrite && File.Exists(fullPath))
                throw new KeyFileException(KeyFileError.AlreadyExists, $"A key file already exists at '{path}'; it was left as it is.");
            if (!Directory.Exists(directory))
            {
                if (OperatingSystem.IsWindows())
                    Directory.CreateDirectory(directory);
                else
                    Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(contents);
                // The rename must not become visible before the bytes are on disk, or a crash leaves an empty key file.
                stream.Flush(flushToDisk: true);
            }
            // The umask can only remove bits from UnixCreateMode; set the mode outright so it is exactly 0600.
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Move(temporary, fullPath, overwrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            if (!overwrite && File.Exists(fullPath))
                throw new KeyFileException(KeyFileError.AlreadyExists, $"A key file already exists at '{path}'; it was left as it is.", e);
            throw new KeyFileException(KeyFileError.CannotWrite, $"The key file '{path}' cannot be written: {e.Message}", e);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The write already failed; a leftover temporary file is reported by that error, not this one.
        }
    }
}

internal sealed class KeyFileDocument
{
    public string? Format { get; set; }
    public int? Version { get; set; }
    public string? Username { get; set; }
    public string? PublicKey { get; set; }
    public KeyFileKdf? Kdf { get; set; }
    public KeyFileCipher? Cipher { get; set; }
}

internal sealed class KeyFileKdf
{
    public string? Algorithm { get; set; }
    public long? MemoryKib { get; set; }
    public long? Passes { get; set; }
    public int? Parallelism { get; set; }
    public string? Salt { get; set; }
}

internal sealed class KeyFileCipher
{
    public string? Algorithm { get; set; }
    public string? Nonce { get; set; }
    public string? Ciphertext { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(KeyFileDocument))]
internal sealed partial class KeyFileJsonContext : JsonSerializerContext;
