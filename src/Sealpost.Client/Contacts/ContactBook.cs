using Sealpost.Client.State;
using Sealpost.Protocol;

namespace Sealpost.Client.Contacts;

public enum ContactState
{
    /// <summary>Seen for the first time and pinned now (trust on first use).</summary>
    New,

    /// <summary>The server's key is the one pinned.</summary>
    Pinned,

    /// <summary>The server's key is the one pinned, and the user said they compared fingerprints.</summary>
    Verified,

    /// <summary>The server's key differs from the one pinned; sending is refused until the user trusts it.</summary>
    Changed,
}

/// <summary>A key as people see it.</summary>
public sealed record KeyInfo(uint KeyId, string PublicKey, string Fingerprint)
{
    internal static KeyInfo Of(ContactKey key) => new(key.KeyId, key.PublicKey, Sealpost.Crypto.Fingerprint.Of(Decode(key.PublicKey)));

    internal static byte[] Decode(string publicKey) =>
        AccountRules.ParsePublicKey(publicKey) ?? throw new SealpostException(ErrorKind.Crypto, "A stored public key is malformed; contacts.json is damaged.");
}

/// <summary>Where a contact stands: the trusted key, and a changed key waiting for the user when there is one.</summary>
public sealed record ContactStatus(string Username, string? DisplayName, ContactState State, uint TrustedKeyId, string TrustedPublicKey, string TrustedFingerprint, KeyInfo? Pending)
{
    public byte[] TrustedKey => KeyInfo.Decode(TrustedPublicKey);
}

/// <summary>The key that opens a message from a sender, and whether the user trusts it.</summary>
public sealed record SenderKey(byte[] PublicKey, bool Trusted, string? Note);

/// <summary>Where public keys come from: the users service, or a fake in tests.</summary>
public interface IKeyDirectory
{
    /// <summary>The current record, or null when there is no such account.</summary>
    Task<PublicAccount?> GetAccountAsync(string username, CancellationToken ct);

    /// <summary>The record as it was under an older key id, or null when there is no such key.</summary>
    Task<PublicAccount?> GetKeyAsync(string username, uint keyId, CancellationToken ct);
}

/// <summary>
/// Trust on first use: the first key seen for a contact is pinned; a different key later is recorded as pending
/// and refused for sending until the user accepts it with <see cref="TrustAsync"/>. Older keys stay, by key id,
/// so messages sealed before a rotation still verify against what was pinned.
/// </summary>
public sealed class ContactBook(ProfileFolder folder, IKeyDirectory directory, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public Contact? Get(string username) =>
        Load().Contacts.GetValueOrDefault(Normalize(username));

    public IReadOnlyList<Contact> All() => [.. Load().Contacts.Values];

    /// <summary>Fetches the contact's current record and compares it with the pin (pinning it if this is the first time). Never throws for a changed key.</summary>
    public async Task<ContactStatus> LookupAsync(string username, CancellationToken ct)
    {
        var account = await FetchAccountAsync(username, ct).ConfigureAwait(false);
        return await ObserveAsync(account, ct).ConfigureAwait(false);
    }

    /// <summary>Like <see cref="LookupAsync"/>, but a changed key throws <see cref="KeyChangedException"/>: the check before sealing.</summary>
    public async Task<ContactStatus> RequireTrustedAsync(string username, CancellationToken ct)
    {
        var status = await LookupAsync(username, ct).ConfigureAwait(false);
        return status.State == ContactState.Changed ? throw new KeyChangedException(status) : status;
    }

    /// <summary>
    /// Accepts the server's current key for the contact and marks it verified. If a change was recorded earlier and the
    /// server now shows yet another key, refuses: the user would be trusting a key they have not seen.
    /// </summary>
    public async Task<ContactStatus> TrustAsync(string username, CancellationToken ct)
    {
        var name = Normalize(username);
        var seen = Get(name)?.Pending;
        var account = await FetchAccountAsync(name, ct).ConfigureAwait(false);
        var key = ParseServerKey(account);
        using var held = await folder.LockAsync(ct).ConfigureAwait(false);
        var document = Load();
        if (seen is not null && (seen.KeyId != (uint)account.KeyId || seen.PublicKey != AccountRules.EncodePublicKey(key)))
        {
            var changedAgain = Observe(document, account, key);
            Save(document);
            throw new SealpostException(
                ErrorKind.KeyChanged,
                $"The key of {name} changed again since it was last shown (now key id {account.KeyId}, fingerprint {changedAgain.Pending?.Fingerprint}). " +
                "Check the new fingerprint, then trust again.");
        }
        if (!document.Contacts.TryGetValue(name, out var contact))
            document.Contacts[name] = contact = new Contact { Username = name };
        contact.DisplayName = account.DisplayName;
        contact.Keys[(uint)account.KeyId] = PinnedKey((uint)account.KeyId, key);
        contact.TrustedKeyId = (uint)account.KeyId;
        contact.Pending = null;
        contact.Verified = true;
        Save(document);
        return StatusOf(contact, ContactState.Verified);
    }

    /// <summary>Compares a server record with the pin and stores what changed.</summary>
    public async Task<ContactStatus> ObserveAsync(PublicAccount account, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(account);
        var key = ParseServerKey(account);
        using var held = await folder.LockAsync(ct).ConfigureAwait(false);
        var document = Load();
        var status = Observe(document, account, key);
        Save(document);
        return status;
    }

    /// <summary>
    /// The key to verify a message from <paramref name="username"/> sealed with its key <paramref name="keyId"/>, or null
    /// when there is none (no such account or key: the message cannot be verified). A key pinned under that id is used
    /// as pinned, so the server cannot swap it. Any other key comes from the server alone, so it is never trusted: a
    /// server could forge a key id older than the one pinned and vouch for a key of its own under it.
    /// </summary>
    public async Task<SenderKey?> ResolveSenderKeyAsync(string username, uint keyId, CancellationToken ct)
    {
        var name = Normalize(username);
        var contact = Get(name);
        if (contact is null)
        {
            var account = await directory.GetAccountAsync(name, ct).ConfigureAwait(false);
            if (account is null) return null;
            var status = await ObserveAsync(account, ct).ConfigureAwait(false);
            contact = Get(name)!;
            if (status.State == ContactState.Changed) return await PendingOrFetchAsync(name, keyId, ct).ConfigureAwait(false);
        }
        if (contact.Keys.TryGetValue(keyId, out var known))
        {
            var pinned = known.Source == ContactKeySources.Pinned;
            return new SenderKey(KeyInfo.Decode(known.PublicKey), pinned, pinned ? null : ServerOnlyNote(name, keyId));
        }
        if (keyId < contact.TrustedKeyId)
        {
            // A key id from before the one we pinned: only the server vouches for it, and the server may be the forger.
            var older = await directory.GetKeyAsync(name, keyId, ct).ConfigureAwait(false);
            if (older is null) return null;
            var key = ParseServerKey(older);
            await UpdateAsync(name, c => c.Keys.TryAdd(keyId, new ContactKey { KeyId = keyId, PublicKey = AccountRules.EncodePublicKey(key), Source = ContactKeySources.Server, SeenAt = _time.GetUtcNow() }), ct)
                .ConfigureAwait(false);
            return new SenderKey(key, false, ServerOnlyNote(name, keyId));
        }
        return await PendingOrFetchAsync(name, keyId, ct).ConfigureAwait(false);
    }

    /// <summary>A newer key than the trusted one: opened with the pending key, but not trusted until the user says so.</summary>
    private async Task<SenderKey?> PendingOrFetchAsync(string name, uint keyId, CancellationToken ct)
    {
        var pending = Get(name)?.Pending;
        byte[] key;
        if (pending is not null && pending.KeyId == keyId)
        {
            key = KeyInfo.Decode(pending.PublicKey);
        }
        else
        {
            var record = await directory.GetKeyAsync(name, keyId, ct).ConfigureAwait(false);
            if (record is null) return null;
            key = ParseServerKey(record);
            await UpdateAsync(name, c =>
            {
                if (c.Pending is null || c.Pending.KeyId <= keyId)
                    c.Pending = new ContactKey { KeyId = keyId, PublicKey = AccountRules.EncodePublicKey(key), Source = ContactKeySources.Server, SeenAt = _time.GetUtcNow() };
            }, ct).ConfigureAwait(false);
        }
        return new SenderKey(key, false, $"sealed with {name}'s key id {keyId}, which you have not trusted yet: compare fingerprints, then run 'sealpost trust {name}'");
    }

    private ContactStatus Observe(ContactsDocument document, PublicAccount account, byte[] key)
    {
        var name = account.Username;
        var keyId = (uint)account.KeyId;
        var encoded = AccountRules.EncodePublicKey(key);
        if (!document.Contacts.TryGetValue(name, out var contact))
        {
            contact = new Contact { Username = name, DisplayName = account.DisplayName, TrustedKeyId = keyId };
            contact.Keys[keyId] = PinnedKey(keyId, key);
            document.Contacts[name] = contact;
            return StatusOf(contact, ContactState.New);
        }
        contact.DisplayName = account.DisplayName;
        var trusted = contact.Keys.GetValueOrDefault(contact.TrustedKeyId);
        if (trusted is not null && trusted.KeyId == keyId && trusted.PublicKey == encoded)
        {
            contact.Pending = null;
            return StatusOf(contact, contact.Verified ? ContactState.Verified : ContactState.Pinned);
        }
        if (contact.Pending is null || contact.Pending.KeyId != keyId || contact.Pending.PublicKey != encoded)
            contact.Pending = new ContactKey { KeyId = keyId, PublicKey = encoded, Source = ContactKeySources.Server, SeenAt = _time.GetUtcNow() };
        return StatusOf(contact, ContactState.Changed);
    }

    private async Task UpdateAsync(string name, Action<Contact> change, CancellationToken ct)
    {
        using var held = await folder.LockAsync(ct).ConfigureAwait(false);
        var document = Load();
        if (!document.Contacts.TryGetValue(name, out var contact)) return;
        change(contact);
        Save(document);
    }

    private async Task<PublicAccount> FetchAccountAsync(string username, CancellationToken ct) =>
        await directory.GetAccountAsync(Normalize(username), ct).ConfigureAwait(false)
        ?? throw new SealpostException(ErrorKind.NotFound, $"There is no account named {Normalize(username)}.");

    private ContactKey PinnedKey(uint keyId, byte[] key) =>
        new() { KeyId = keyId, PublicKey = AccountRules.EncodePublicKey(key), Source = ContactKeySources.Pinned, SeenAt = _time.GetUtcNow() };

    private static string ServerOnlyNote(string name, uint keyId) =>
        $"sealed with {name}'s key id {keyId}, which is older than the key you pinned and vouched for only by the server " +
        "(a server could forge it): ask the sender whether they sent it";

    private static ContactStatus StatusOf(Contact contact, ContactState state)
    {
        var trusted = contact.Keys[contact.TrustedKeyId];
        return new ContactStatus(
            contact.Username, contact.DisplayName, state, contact.TrustedKeyId, trusted.PublicKey, KeyInfo.Of(trusted).Fingerprint,
            contact.Pending is null ? null : KeyInfo.Of(contact.Pending));
    }

    private static byte[] ParseServerKey(PublicAccount account) =>
        AccountRules.ParsePublicKey(account.PublicKey)
        ?? throw new SealpostException(ErrorKind.Crypto, $"The server sent an unusable public key for {account.Username}.");

    /// <summary>The username lower-cased, or an <see cref="ErrorKind.Invalid"/> error naming the rule.</summary>
    public static string Normalize(string username) =>
        AccountRules.NormalizeUsername(username)
        ?? throw new SealpostException(ErrorKind.Invalid, $"\"{username}\" is not a username: 3 to 32 characters from a-z, 0-9 and '_'.");

    private ContactsDocument Load() => folder.Read(folder.ContactsFile, LocalJsonContext.Default.ContactsDocument) ?? new ContactsDocument();

    private void Save(ContactsDocument document) => folder.Write(folder.ContactsFile, document, LocalJsonContext.Default.ContactsDocument);
}
