using Sealpost.Client.Storage;
using Sealpost.Protocol;

namespace Sealpost.Client.Contacts;

/// <summary>
/// Trust on first use: the first key seen for a contact is pinned; a different key later is recorded as pending
/// and refused for sending until the user accepts it with <see cref="TrustAsync"/>. Older keys stay, by key id,
/// so messages sealed before a rotation still verify against what was pinned.
/// </summary>
internal sealed class ContactBook(ProfileFolder folder, IKeyDirectory directory, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public Contact? Get(string username) =>
        Load().Contacts.GetValueOrDefault(Normalize(username));

    public IReadOnlyList<Contact> All() => [.. Load().Contacts.Values];

    /// <summary>
    /// Fetches the contact's current record and compares it with the pin (pinning it if this is the first time). Never
    /// throws for a changed key. For an account with an identity key, the identity key is what is pinned: a new device
    /// key it certified (a rotation) is taken without asking, a new identity key is a change, and so is a first identity
    /// key for a contact pinned without one (nothing carries over: anyone can certify someone else's public key). A
    /// contact whose identity is pinned and whose record shows none is <see cref="ContactStatus.IdentityMissing"/>.
    /// </summary>
    public async Task<ContactStatus> LookupAsync(string username, CancellationToken ct)
    {
        var account = await FetchAccountAsync(username, ct).ConfigureAwait(false);
        var list = await directory.GetDevicesAsync(account.Username, ct).ConfigureAwait(false);
        if (list?.IdentityKey is null)
        {
            // Never back to a contact without an identity: that is a downgrade, not a change the user could accept.
            if (Get(account.Username) is { IdentityKey: not null } pinned) return MissingIdentity(pinned);
            return await ObserveAsync(account, ct).ConfigureAwait(false);
        }
        var first = Get(account.Username) is null;
        byte[] identity;
        try
        {
            identity = await PinIdentityAsync(list, ct).ConfigureAwait(false);
        }
        catch (KeyChangedException e)
        {
            return e.Status;
        }
        // The account's public record names one device's key; it counts only when the pinned identity certified it.
        var key = AccountRules.ParsePublicKey(account.PublicKey);
        var certified = key is null ? null : list.Devices.Select(d => Verify(account.Username, identity, d))
            .FirstOrDefault(d => d is not null && d.KeyId == (uint)account.KeyId && d.PublicKey.SequenceEqual(key));
        using var held = await folder.LockAsync(ct).ConfigureAwait(false);
        var document = Load();
        var contact = document.Contacts[account.Username];
        contact.DisplayName = account.DisplayName;
        contact.Pending = null;
        if (certified is not null)
        {
            contact.Keys[certified.KeyId] = PinnedKey(certified.KeyId, certified.PublicKey);
            contact.TrustedKeyId = certified.KeyId;
        }
        Save(document);
        return StatusOf(contact, contact.Verified ? ContactState.Verified : first ? ContactState.New : ContactState.Pinned);
    }

    /// <summary>Like <see cref="LookupAsync"/>, but a changed key throws <see cref="KeyChangedException"/>: the check before sealing.</summary>
    public async Task<ContactStatus> RequireTrustedAsync(string username, CancellationToken ct)
    {
        var status = await LookupAsync(username, ct).ConfigureAwait(false);
        return status.State == ContactState.Changed ? throw Changed(status) : status;
    }

    /// <summary>
    /// Accepts the contact's current key (or identity key) and marks it verified, but only what the user was shown: if a
    /// change was recorded earlier and the server now shows yet another key or identity, refuses and records the new one,
    /// so the user checks it first. A contact whose identity is pinned cannot be trusted without one.
    /// </summary>
    public async Task<ContactStatus> TrustAsync(string username, CancellationToken ct)
    {
        var name = Normalize(username);
        var before = Get(name);
        var account = await FetchAccountAsync(name, ct).ConfigureAwait(false);
        var devices = await directory.GetDevicesAsync(name, ct).ConfigureAwait(false);
        if (devices?.IdentityKey is not null || before?.IdentityKey is not null) return await TrustIdentityAsync(name, before, account, devices, ct).ConfigureAwait(false);
        var seen = before?.Pending;
        var key = ParseServerKey(account);
        using var held = await folder.LockAsync(ct).ConfigureAwait(false);
        var document = Load();
        if (seen is not null && (seen.KeyId != (uint)account.KeyId || seen.PublicKey != AccountRules.EncodePublicKey(key)))
        {
            var changedAgain = Observe(document, account, key);
            Save(document);
            throw new SealpostException(
                ErrorKind.KeyChanged, ClientErrorCodes.KeyChangedAgain,
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

    // The identity shown is adopted only if it is the one pinned or the change last shown (safety numbers come from it,
    // so that is what the user compared); a certified device key of it becomes the trusted key.
    private async Task<ContactStatus> TrustIdentityAsync(string name, Contact? before, PublicAccount account, DeviceList? devices, CancellationToken ct)
    {
        if (devices?.IdentityKey is not { } shown) throw IdentityMissing(MissingIdentity(before!));
        if (before is not null && shown != (before.PendingIdentityKey ?? before.IdentityKey))
        {
            await UpdateAsync(name, c => c.PendingIdentityKey = shown, ct).ConfigureAwait(false);
            throw new KeyChangedException(StatusOf(Get(name)!, ContactState.Changed), ClientErrorCodes.KeyChangedAgain,
                $"The identity key of {name} changed since it was last shown (now fingerprint {Sealpost.Crypto.Fingerprint.Of(DecodeIdentity(devices))}). " +
                $"Check the new safety number ('sealpost fingerprint {name}'), then trust again.");
        }
        var identity = DecodeIdentity(devices);
        var certified = devices.Devices.Select(d => Verify(name, identity, d)).OfType<TrustedDevice>().ToList();
        if (certified.Count == 0)
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.DeviceNotCertified, $"None of {name}'s devices is signed by the identity key shown; nothing was trusted.");
        var device = certified.FirstOrDefault(d => d.DeviceId == 1) ?? certified[0];
        using var held = await folder.LockAsync(ct).ConfigureAwait(false);
        var document = Load();
        if (!document.Contacts.TryGetValue(name, out var contact))
            document.Contacts[name] = contact = new Contact { Username = name };
        contact.DisplayName = account.DisplayName;
        contact.Keys[device.KeyId] = PinnedKey(device.KeyId, device.PublicKey);
        contact.TrustedKeyId = device.KeyId;
        contact.Pending = null;
        contact.IdentityKey = shown;
        contact.PendingIdentityKey = null;
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

    /// <summary>
    /// The devices to seal a message for <paramref name="username"/> to, each verified under the account's identity key:
    /// <paramref name="ownIdentity"/> for one's own account, otherwise the key pinned for the contact (pinned now on first
    /// use; a different one throws <see cref="ErrorKind.KeyChanged"/> until the user trusts it). A device whose
    /// certificate does not verify (one the server added) throws <see cref="ErrorKind.Crypto"/>: nothing is sealed to it,
    /// and since the server takes a message only for every device, nothing is sent. Null when the account has no
    /// identity key (an account from before linked devices) that was never pinned with one: seal to its trusted key as
    /// before; for a contact whose identity is pinned, a list without one throws <see cref="ClientErrorCodes.IdentityKeyMissing"/>.
    /// </summary>
    public async Task<IReadOnlyList<TrustedDevice>?> RequireDevicesAsync(string username, byte[]? ownIdentity, CancellationToken ct)
    {
        var name = Normalize(username);
        var list = await directory.GetDevicesAsync(name, ct).ConfigureAwait(false)
            ?? throw new SealpostException(ErrorKind.NotFound, ClientErrorCodes.NoSuchAccount, $"There is no account named {name}.");
        if (list.IdentityKey is null && ownIdentity is null)
        {
            // Never a fallback to envelope v1 for a contact whose identity is pinned: the server may have stripped it.
            if (Get(name) is { IdentityKey: not null } pinned) throw IdentityMissing(MissingIdentity(pinned));
            return null;
        }
        var identity = ownIdentity ?? await PinIdentityAsync(list, ct).ConfigureAwait(false);
        var devices = new List<TrustedDevice>(list.Devices.Count);
        foreach (var device in list.Devices)
        {
            devices.Add(Verify(name, identity, device)
                ?? throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.DeviceNotCertified,
                    $"{name}'s device {device.DeviceId} is not signed by {name}'s identity key: not sending to it. The server lists a device " +
                    $"that nobody holding {name}'s identity key approved, so nothing was sent to {name}. If {name} did not just link a device, " +
                    "the server may be trying to read your messages."));
        }
        return devices;
    }

    /// <summary>
    /// The key that opens a message from device <paramref name="deviceId"/> of <paramref name="username"/> sealed with its key
    /// <paramref name="keyId"/>: fetched from the server and trusted only as far as its certificate verifies under the
    /// identity key pinned for the account (or <paramref name="ownIdentity"/>, for one's own devices). Null with a reason when
    /// it cannot be verified at all.
    /// </summary>
    public async Task<(SenderKey? Key, string? Problem)> ResolveDeviceKeyAsync(string username, uint deviceId, uint keyId, byte[]? ownIdentity, CancellationToken ct)
    {
        var name = Normalize(username);
        var key = await directory.GetDeviceKeyAsync(name, deviceId, keyId, ct).ConfigureAwait(false);
        if (key is null) return (null, $"{name} has no device {deviceId} with key id {keyId} (or no account): the sender cannot be verified.");
        byte[] identity;
        var trusted = true;
        if (ownIdentity is not null) identity = ownIdentity;
        else
        {
            var list = await directory.GetDevicesAsync(name, ct).ConfigureAwait(false);
            if (list?.IdentityKey is null) return (null, $"{name} has no identity key, yet the message claims to come from one of {name}'s devices.");
            try
            {
                identity = await PinIdentityAsync(list, ct).ConfigureAwait(false);
            }
            catch (SealpostException e) when (e.Kind == ErrorKind.KeyChanged)
            {
                // Opened with the new identity key, but not trusted until the user says so.
                identity = DecodeIdentity(list);
                trusted = false;
            }
        }
        if (Verify(name, identity, key) is not { } device)
            return (null, $"{name}'s device {deviceId} (key id {keyId}) is not signed by {name}'s identity key: the server may have slipped in a device of its own.");
        return (new SenderKey(device.PublicKey, trusted, trusted ? null : $"{name}'s identity key changed: compare safety numbers, then run 'sealpost trust {name}'"), null);
    }

    private static TrustedDevice? Verify(string username, byte[] identity, PublicDevice device)
    {
        var key = AccountRules.ParsePublicKey(device.PublicKey);
        var certificate = AccountRules.ParseBase64Url(device.Certificate, Sealpost.Crypto.IdentityKey.SignatureSize);
        if (key is null || certificate is null || device.DeviceId < 1 || device.KeyId < 1) return null;
        var claimed = new Sealpost.Crypto.DeviceKey(username, (uint)device.DeviceId, (uint)device.KeyId, key);
        return Sealpost.Crypto.DeviceCertificate.Verify(identity, claimed, certificate) ? new TrustedDevice(claimed.DeviceId, claimed.KeyId, key) : null;
    }

    /// <summary>
    /// Compares the account's identity key with the one pinned for the contact, pinning it on first use. Any other
    /// identity key, a first one for a contact pinned without one included, waits for the user (<see cref="TrustAsync"/>)
    /// like a changed key: a certificate is a signature over public data, so an identity key that certified a key already
    /// pinned proves nothing about who holds it (security review H2).
    /// </summary>
    private async Task<byte[]> PinIdentityAsync(DeviceList list, CancellationToken ct)
    {
        var identity = DecodeIdentity(list);
        var encoded = list.IdentityKey!;
        var name = list.Username;
        using var held = await folder.LockAsync(ct).ConfigureAwait(false);
        var document = Load();
        if (!document.Contacts.TryGetValue(name, out var contact))
        {
            var first = list.Devices.Select(d => Verify(name, identity, d)).FirstOrDefault(d => d is not null)
                ?? throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.DeviceNotCertified, $"None of {name}'s devices is signed by {name}'s identity key; nothing was pinned.");
            contact = new Contact { Username = name, TrustedKeyId = first.KeyId, IdentityKey = encoded };
            contact.Keys[first.KeyId] = PinnedKey(first.KeyId, first.PublicKey);
            document.Contacts[name] = contact;
        }
        else if (contact.IdentityKey == encoded) contact.PendingIdentityKey = null;
        else
        {
            contact.PendingIdentityKey = encoded;
            Save(document);
            throw Changed(StatusOf(contact, ContactState.Changed));
        }
        Save(document);
        return identity;
    }

    private static byte[] DecodeIdentity(DeviceList list) => DecodeIdentity(list.IdentityKey!, list.Username);

    private static byte[] DecodeIdentity(string identityKey, string username) =>
        AccountRules.ParseBase64Url(identityKey, Sealpost.Crypto.IdentityKey.PublicKeySize)
        ?? throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.BadServerKey, $"The server sent an unusable identity key for {username}.");

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
        ?? throw new SealpostException(ErrorKind.NotFound, ClientErrorCodes.NoSuchAccount, $"There is no account named {Normalize(username)}.");

    private ContactKey PinnedKey(uint keyId, byte[] key) =>
        new() { KeyId = keyId, PublicKey = AccountRules.EncodePublicKey(key), Source = ContactKeySources.Pinned, SeenAt = _time.GetUtcNow() };

    private static string ServerOnlyNote(string name, uint keyId) =>
        $"sealed with {name}'s key id {keyId}, which is older than the key you pinned and vouched for only by the server " +
        "(a server could forge it): ask the sender whether they sent it";

    private static ContactStatus StatusOf(Contact contact, ContactState state)
    {
        var trusted = contact.Keys[contact.TrustedKeyId];
        var fingerprint = contact.IdentityKey is { } identity ? Sealpost.Crypto.Fingerprint.Of(DecodeIdentity(identity, contact.Username)) : KeyInfo.Of(trusted).Fingerprint;
        return new ContactStatus(
            contact.Username, contact.DisplayName, contact.PendingIdentityKey is null ? state : ContactState.Changed, contact.TrustedKeyId, trusted.PublicKey, fingerprint,
            contact.Pending is null ? null : KeyInfo.Of(contact.Pending), contact.IdentityKey, contact.PendingIdentityKey);
    }

    /// <summary>The refusal to send to a contact whose key changed, saying both keys.</summary>
    private static KeyChangedException Changed(ContactStatus status) =>
        status.IdentityMissing ? IdentityMissing(status)
        : status.PendingIdentityKey is not null
        ? new(status, ClientErrorCodes.IdentityKeyChanged, status.IdentityKey is null
            ? $"{status.Username} now has an identity key, which you have not accepted: pinned here is their key without one (fingerprint " +
              $"{status.TrustedFingerprint}); the identity key's fingerprint is {status.PendingIdentityFingerprint}. A first identity key is a change like any other."
            : $"The identity key of {status.Username} has changed (pinned {status.TrustedFingerprint}; now {status.PendingIdentityFingerprint}).")
        : new(status, ClientErrorCodes.KeyChanged,
            $"The key of {status.Username} has changed (pinned key id {status.TrustedKeyId}, fingerprint {status.TrustedFingerprint}; " +
            $"now key id {status.Pending?.KeyId}, fingerprint {status.Pending?.Fingerprint}).");

    /// <summary>A contact whose identity is pinned, shown by the server without one.</summary>
    private static ContactStatus MissingIdentity(Contact contact) => StatusOf(contact, ContactState.Changed) with { IdentityMissing = true };

    private static KeyChangedException IdentityMissing(ContactStatus status) => new(status, ClientErrorCodes.IdentityKeyMissing,
        $"The server shows no identity key (or no certified device) for {status.Username}, whose identity key is pinned here " +
        $"(fingerprint {status.TrustedFingerprint}): nothing is sent, and Sealpost never falls back to the older envelope for them. " +
        "If this lasts, the server may be trying to read your messages.");

    private static byte[] ParseServerKey(PublicAccount account) =>
        AccountRules.ParsePublicKey(account.PublicKey)
        ?? throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.BadServerKey, $"The server sent an unusable public key for {account.Username}.");

    /// <summary>The username lower-cased, or an <see cref="ErrorKind.Invalid"/> error naming the rule.</summary>
    public static string Normalize(string username) =>
        AccountRules.NormalizeUsername(username)
        ?? throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.InvalidUsername, $"\"{username}\" is not a username: 3 to 32 characters from a-z, 0-9 and '_'.");

    private ContactsDocument Load() => folder.Read(folder.ContactsFile, LocalJsonContext.Default.ContactsDocument) ?? new ContactsDocument();

    private void Save(ContactsDocument document) => folder.Write(folder.ContactsFile, document, LocalJsonContext.Default.ContactsDocument);
}
