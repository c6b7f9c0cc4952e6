using System.Text.Json;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Storage;

/// <summary>
/// This profile's own private keys, one key file per key id under <c>keys/</c>, unlocked with the passphrase on
/// first use and kept in memory for the life of the client. Old keys stay so messages sealed to them still open.
/// </summary>
internal sealed class KeyRing(ProfileFolder folder, Func<string> passphrase)
{
    private readonly Dictionary<uint, X25519KeyPair> _unlocked = [];
    private readonly Lock _gate = new();
    private IdentityKey? _identity;

    public bool HasIdentity => File.Exists(folder.IdentityFile);

    /// <summary>The account's identity key, unlocking its file with the passphrase if needed.</summary>
    public IdentityKey Identity()
    {
        lock (_gate)
        {
            if (_identity is not null) return _identity;
        }
        if (!HasIdentity)
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.NoIdentityKey, $"This device holds no identity key ({folder.IdentityFile} is missing); link it from another device of the account.");
        IdentityKey identity;
        try
        {
            identity = KeyFile.LoadIdentity(folder.IdentityFile, passphrase()).Identity;
        }
        catch (KeyFileException e)
        {
            throw Unusable(e);
        }
        lock (_gate) return _identity ??= identity;
    }

    /// <summary>Writes the identity key (a new one, or one received when this device was linked).</summary>
    public void SaveIdentity(string username, IdentityKey identity)
    {
        folder.EnsureExists();
        try
        {
            KeyFile.SaveIdentity(folder.IdentityFile, username, identity, passphrase());
        }
        catch (KeyFileException e)
        {
            throw Unusable(e);
        }
        lock (_gate) _identity = identity;
    }

    public bool Has(uint keyId) => File.Exists(folder.KeyFile(keyId));

    /// <summary>Ids of every key file held, oldest first.</summary>
    public IReadOnlyList<uint> KeyIds() =>
        Directory.Exists(folder.KeysFolder)
            ? [.. Directory.EnumerateFiles(folder.KeysFolder, "*.key")
                .Select(p => uint.TryParse(Path.GetFileNameWithoutExtension(p), out var id) ? id : 0)
                .Where(id => id > 0)
                .Order()]
            : [];

    /// <summary>The key pair with this id, unlocking its file with the passphrase if needed.</summary>
    public X25519KeyPair Get(uint keyId)
    {
        lock (_gate)
        {
            if (_unlocked.TryGetValue(keyId, out var pair)) return pair;
        }
        var path = folder.KeyFile(keyId);
        if (!File.Exists(path))
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.NoPrivateKey, $"This device has no private key with id {keyId} ({path} is missing).");
        StoredKey stored;
        try
        {
            stored = KeyFile.Load(path, passphrase());
        }
        catch (KeyFileException e)
        {
            throw Unusable(e);
        }
        lock (_gate)
        {
            _unlocked[keyId] = stored.KeyPair;
        }
        return stored.KeyPair;
    }

    /// <summary>Writes a new key pair under a temporary name; <see cref="Commit"/> gives it its key id once the server has it.</summary>
    public string SaveNew(string username, X25519KeyPair pair)
    {
        folder.EnsureExists();
        var path = Path.Combine(folder.KeysFolder, $"new-{Guid.NewGuid():N}.key");
        try
        {
            KeyFile.Save(path, username, pair, passphrase());
        }
        catch (KeyFileException e)
        {
            throw Unusable(e);
        }
        return path;
    }

    public void Commit(string temporaryPath, uint keyId, X25519KeyPair pair)
    {
        try
        {
            File.Move(temporaryPath, folder.KeyFile(keyId), overwrite: false);
        }
        catch (IOException e)
        {
            throw new SealpostException(
                ErrorKind.Crypto, ClientErrorCodes.KeyNotStored, $"The server accepted the new key as id {keyId}, but it could not be stored as {folder.KeyFile(keyId)}: {e.Message}. It is kept as {temporaryPath}.", e);
        }
        lock (_gate)
        {
            _unlocked[keyId] = pair;
        }
    }

    /// <summary>
    /// The public half of one of our keys, read from the key file's clear <c>public_key</c> field without the passphrase
    /// (for fingerprints). Unlocking the file later checks it against the private key.
    /// </summary>
    public byte[] PublicKeyOf(uint keyId)
    {
        lock (_gate)
        {
            if (_unlocked.TryGetValue(keyId, out var pair)) return pair.PublicKey.ToArray();
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(folder.KeyFile(keyId)));
            if (document.RootElement.TryGetProperty("public_key", out var value) && AccountRules.ParsePublicKey(value.GetString()) is { } key) return key;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException)
        {
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.KeyFileUnusable, $"Cannot read the public key in {folder.KeyFile(keyId)}: {e.Message}", e);
        }
        throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.KeyFileUnusable, $"The key file {folder.KeyFile(keyId)} is damaged: it has no usable public key.");
    }

    /// <summary>A key file that does not open, said as the SDK says failures: a wrong passphrase is its own code.</summary>
    private static SealpostException Unusable(KeyFileException e) => new(ErrorKind.Crypto,
        e.Error == KeyFileError.WrongPassphraseOrDamaged ? ClientErrorCodes.WrongPassphrase : ClientErrorCodes.KeyFileUnusable, e.Message, e);

    /// <summary>Checks the passphrase opens an existing key, so a new key is not saved under a mistyped one.</summary>
    public void CheckPassphrase()
    {
        if (KeyIds() is [.., var newest]) Get(newest);
    }
}
