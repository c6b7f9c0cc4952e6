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

    private const int KeySize = 32;
    private const string IdentityKind = "identity";

    private static ReadOnlySpan<byte> AadLabel => "sealpost/keyfile/v1\0"u8;
    private static ReadOnlySpan<byte> IdentityAadLabel => "sealpost/identity-keyfile/v1\0"u8;

    public static void Save(string path, string username, X25519KeyPair keyPair, string passphrase, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(keyPair);
        Save(path, username, null, keyPair.PrivateKey, keyPair.PublicKey, passphrase, overwrite);
    }

    /// <summary>
    /// Saves the account's Ed25519 identity key (docs/devices.md) the same way, marked <c>"kind": "identity"</c> and sealed
    /// under its own label, so neither kind of file can be passed off as the other.
    /// </summary>
    public static void SaveIdentity(string path, string username, IdentityKey identity, string passphrase, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(identity);
        var privateKey = identity.ExportPrivateKey();
        try
        {
            Save(path, username, IdentityKind, privateKey, identity.PublicKey, passphrase, overwrite);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(privateKey);
        }
    }

    private static void Save(string path, string username, string? kind, ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey, string passphrase, bool overwrite)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Username.Require(username, nameof(username));
        ArgumentException.ThrowIfNullOrEmpty(passphrase);

        var salt = RandomNumberGenerator.GetBytes(SaltSize);
        var nonce = RandomNumberGenerator.GetBytes(NonceSize);
        var ciphertext = new byte[KeySize + TagSize];
        Span<byte> key = stackalloc byte[32];
        try
        {
            DeriveKey(passphrase, salt, Argon2MemoryKib, Argon2Passes, key);
            using var aes = new AesGcm(key, TagSize);
            aes.Encrypt(nonce, privateKey, ciphertext.AsSpan(0, KeySize), ciphertext.AsSpan(KeySize), Aad(kind, username, publicKey));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }

        var document = new KeyFileDocument
        {
            Format = Format,
            Version = Version,
            Kind = kind,
            Username = username,
            PublicKey = Base64Url.EncodeToString(publicKey),
            Kdf = new KeyFileKdf { Algorithm = KdfName, MemoryKib = Argon2MemoryKib, Passes = Argon2Passes, Parallelism = 1, Salt = Base64Url.EncodeToString(salt) },
            Cipher = new KeyFileCipher { Algorithm = CipherName, Nonce = Base64Url.EncodeToString(nonce), Ciphertext = Base64Url.EncodeToString(ciphertext) },
        };
        WriteAtomically(path, JsonSerializer.SerializeToUtf8Bytes(document, KeyFileJsonContext.Default.KeyFileDocument), overwrite);
    }

    public static StoredKey Load(string path, string passphrase)
    {
        var (username, privateKey) = Load(path, passphrase, null, X25519KeyPair.KeySize);
        try
        {
            return new StoredKey(username, X25519KeyPair.FromPrivateKey(privateKey));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(privateKey);
        }
    }

    /// <summary>Loads an identity key saved by <see cref="SaveIdentity"/>.</summary>
    public static (string Username, IdentityKey Identity) LoadIdentity(string path, string passphrase)
    {
        var (username, privateKey) = Load(path, passphrase, IdentityKind, IdentityKey.PublicKeySize);
        try
        {
            return (username, IdentityKey.FromPrivateKey(privateKey));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(privateKey);
        }
    }

    // The private key, checked against the file's public key (derived again from it).
    private static (string Username, byte[] PrivateKey) Load(string path, string passphrase, string? kind, int publicKeySize)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(passphrase);

        var document = Parse(path, Read(path));
        var username = document.Username;
        if (!Username.IsValid(username) || document.Kind != kind)
            throw Damaged(path);
        var publicKey = Decode(document.PublicKey, publicKeySize, path);
        var kdf = document.Kdf ?? throw Damaged(path);
        var cipher = document.Cipher ?? throw Damaged(path);
        if (kdf.Algorithm != KdfName || kdf.Parallelism != 1 || cipher.Algorithm != CipherName
            || kdf.MemoryKib is not (>= MinMemoryKib and <= MaxMemoryKib) || kdf.Passes is not (>= 1 and <= MaxPasses))
        {
            throw Damaged(path);
        }
        var salt = Decode(kdf.Salt, SaltSize, path);
        var nonce = Decode(cipher.Nonce, NonceSize, path);
        var ciphertext = Decode(cipher.Ciphertext, KeySize + TagSize, path);

        Span<byte> key = stackalloc byte[32];
        var privateKey = new byte[KeySize];
        try
        {
            DeriveKey(passphrase, salt, kdf.MemoryKib.Value, kdf.Passes.Value, key);
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(nonce, ciphertext.AsSpan(0, KeySize), ciphertext.AsSpan(KeySize), privateKey, Aad(kind, username!, publicKey));
            var derived = kind == IdentityKind ? DerivedIdentityPublicKey(privateKey) : X25519KeyPair.FromPrivateKey(privateKey).PublicKey.ToArray();
            if (!derived.AsSpan().SequenceEqual(publicKey))
                throw Damaged(path);
            return (username!, privateKey);
        }
        catch (AuthenticationTagMismatchException)
        {
            CryptographicOperations.ZeroMemory(privateKey);
            throw new KeyFileException(
                KeyFileError.WrongPassphraseOrDamaged,
                $"Wrong passphrase or damaged key file '{path}'. The two cannot be told apart: the file is sealed as a whole, so either makes it fail the same check.");
        }
        catch
        {
            CryptographicOperations.ZeroMemory(privateKey);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private static byte[] DerivedIdentityPublicKey(ReadOnlySpan<byte> privateKey)
    {
        using var identity = IdentityKey.FromPrivateKey(privateKey);
        return identity.PublicKey;
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

    /// <summary>aad = "sealpost/keyfile/v1" (identity keys: "sealpost/identity-keyfile/v1") || 0x00 || len || username || public key.</summary>
    private static byte[] Aad(string? kind, string username, ReadOnlySpan<byte> publicKey)
    {
        var label = kind == IdentityKind ? IdentityAadLabel : AadLabel;
        var aad = new byte[label.Length + 1 + username.Length + publicKey.Length];
        label.CopyTo(aad);
        var written = label.Length + Username.WriteLengthPrefixed(username, aad.AsSpan(label.Length));
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
    public string? Kind { get; set; }
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
