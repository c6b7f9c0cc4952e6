using Sealpost.Client.Contacts;
using Sealpost.Client.Storage;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Accounts;

/// <summary>
/// The account this profile holds: register, log in and out, change the password, delete it, rotate this device's key.
/// A profile holds one account; its private keys never leave it (the server gets public keys only).
/// </summary>
public sealed class AccountClient
{
    private readonly Uri _server;
    private readonly ProfileFolder _profile;
    private readonly ProfileAccount _account;
    private readonly KeyRing _keys;
    private readonly UsersApiClient _users;
    private readonly TimeProvider _time;

    internal AccountClient(Uri server, ProfileFolder profile, ProfileAccount account, KeyRing keys, UsersApiClient users, SessionKeeper session, TimeProvider time)
    {
        _server = server;
        _profile = profile;
        _account = account;
        _keys = keys;
        _users = users;
        Session = session;
        _time = time;
    }

    internal SessionKeeper Session { get; }

    /// <summary>This profile's account, or null before register, login or link.</summary>
    public LocalAccount? Current => _account.Read() is { } state ? LocalAccount.Of(state) : null;

    /// <summary>
    /// The fingerprint contacts compare for this account: its identity key's once it has one (docs/devices.md), else its
    /// key's. Null before register/login.
    /// </summary>
    public string? Fingerprint => _account.Read() is not { } account ? null
        : ProfileAccount.IdentityOf(account) is { } identity ? Crypto.Fingerprint.Of(identity)
        : _keys.Has(account.KeyId) ? Crypto.Fingerprint.Of(_keys.PublicKeyOf(account.KeyId)) : null;

    /// <summary>Whether this profile holds the private key with this id (a profile that only logged in may hold none).</summary>
    public bool HoldsKey(uint keyId) => _keys.Has(keyId);

    /// <summary>Whether the private key held here is the one the server publishes for <paramref name="account"/>.</summary>
    public bool HoldsKeyOf(AccountInfo account)
    {
        ArgumentNullException.ThrowIfNull(account);
        return _keys.Has(account.KeyId) && Crypto.Fingerprint.Of(_keys.PublicKeyOf(account.KeyId)) == account.Fingerprint;
    }

    /// <summary>Asks for the passphrase now, if it is needed at all, and checks it opens this device's newest key.</summary>
    public void CheckPassphrase() => _keys.CheckPassphrase();

    /// <summary>
    /// Creates a key pair and the account's identity key here, saves the private keys under the passphrase, registers
    /// only the public keys (device 1, named <paramref name="deviceName"/>, its key certified by the identity), logs in.
    /// </summary>
    public async Task<AccountInfo> RegisterAsync(string username, string password, string? displayName, string? deviceName, CancellationToken ct)
    {
        var name = ContactBook.Normalize(username);
        if (_account.Read() is { } existing)
            throw new ProfileException(ErrorKind.Invalid, ClientErrorCodes.ProfileHasAccount, _profile.Name, LocalAccount.Of(existing),
                $"Profile '{_profile.Name}' already holds the account {existing.Username}.");
        var newProfile = !Directory.Exists(_profile.Root);
        _profile.EnsureExists();
        var pair = X25519KeyPair.Generate();
        // Kept by the key ring once saved (not disposed here).
        var identity = IdentityKey.Generate();
        var certificate = DeviceCertificate.Sign(identity, new DeviceKey(name, 1, 1, pair.PublicKey.ToArray()));
        OwnAccount own;
        string temporary;
        try
        {
            temporary = _keys.SaveNew(name, pair);
            try
            {
                own = await _users.RegisterAsync(name, password, AccountRules.EncodePublicKey(pair.PublicKey), displayName, deviceName,
                    AccountRules.EncodePublicKey(identity.PublicKey), AccountRules.EncodePublicKey(certificate), ct).ConfigureAwait(false);
            }
            catch
            {
                ProfileFolder.TryDelete(temporary);
                throw;
            }
        }
        catch when (newProfile)
        {
            // A failed registration leaves no empty profile behind to be mistaken for one that holds something.
            ProfileFolder.TryDeleteFolder(_profile.Root);
            throw;
        }
        _keys.Commit(temporary, (uint)own.KeyId, pair);
        _keys.SaveIdentity(own.Username, identity);
        _account.Save(new AccountState { Server = _server.AbsoluteUri, Username = own.Username, KeyId = (uint)own.KeyId, IdentityKey = AccountRules.EncodePublicKey(identity.PublicKey) });
        Session.Save(await _users.LoginAsync(name, password, null, ct).ConfigureAwait(false), own.Username);
        return AccountInfo.Of(own);
    }

    /// <summary>Logs in and stores the session. A profile holds one account: logging in as another needs another profile.</summary>
    public async Task<AccountInfo> LoginAsync(string username, string password, CancellationToken ct)
    {
        var name = ContactBook.Normalize(username);
        var existing = _account.Read();
        if (existing is not null && existing.Username != name)
            throw new ProfileException(ErrorKind.Invalid, ClientErrorCodes.ProfileOfAnotherAccount, _profile.Name, LocalAccount.Of(existing),
                $"Profile '{_profile.Name}' belongs to {existing.Username}, not {name}.") { Username = name };
        var session = await _users.LoginAsync(name, password, existing?.DeviceId, ct).ConfigureAwait(false);
        _profile.EnsureExists();
        Session.Save(session, name);
        var me = await _users.GetMeAsync(session.AccessToken, ct).ConfigureAwait(false);
        var account = existing ?? new AccountState { Username = me.Username, KeyId = (uint)me.KeyId };
        account.Server = _server.AbsoluteUri;
        _account.Save(account);
        await EnsureIdentityAsync(password, ct).ConfigureAwait(false);
        return AccountInfo.Of(me);
    }

    /// <summary>Ends the session on the server (if it still exists) and forgets the tokens here. Keys, contacts and history stay.</summary>
    public async Task LogoutAsync(CancellationToken ct)
    {
        if (Session.Current is null) return;
        try
        {
            var token = await Session.GetAsync(ct).ConfigureAwait(false);
            await _users.LogoutAsync(token.Value, ct).ConfigureAwait(false);
        }
        catch (SealpostException e) when (e.Kind == ErrorKind.Auth)
        {
            // Already over on the server side.
        }
        Session.Forget();
    }

    /// <summary>
    /// Changes the account password. The server ends every session of the account (other devices must log in again);
    /// this profile logs in again with the new password, so it stays logged in.
    /// </summary>
    public async Task ChangePasswordAsync(string currentPassword, string newPassword, CancellationToken ct)
    {
        var account = _account.Require();
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        await _users.ChangePasswordAsync(token.Value, currentPassword, newPassword, ct).ConfigureAwait(false);
        Session.Forget();
        Session.Save(await _users.LoginAsync(account.Username, newPassword, account.DeviceId, ct).ConfigureAwait(false), account.Username);
    }

    /// <summary>
    /// Deletes the account on the server (its name stays taken for good) and forgets the session and account here.
    /// Keys, contacts and history stay in the profile folder until the user removes it.
    /// </summary>
    public async Task DeleteAsync(string currentPassword, CancellationToken ct)
    {
        var account = _account.Require();
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        await _users.DeleteAccountAsync(token.Value, currentPassword, ct).ConfigureAwait(false);
        Session.Forget();
        account.DeletedAt = _time.GetUtcNow();
        _account.Save(account);
    }

    /// <summary>Whether the server still has a live account of this name; null when the server cannot say (unreachable).</summary>
    public async Task<bool?> ExistsAsync(string username, CancellationToken ct)
    {
        try
        {
            return await _users.GetAccountAsync(username, ct).ConfigureAwait(false) is not null;
        }
        catch (SealpostException)
        {
            return null;
        }
    }

    /// <summary>The account as the server has it now; compare it with the key held here with <see cref="HoldsKeyOf"/>.</summary>
    public async Task<AccountInfo> WhoAmIAsync(CancellationToken ct)
    {
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        return AccountInfo.Of(await _users.GetMeAsync(token.Value, ct).ConfigureAwait(false));
    }

    /// <summary>
    /// A new key pair: the private key is saved (the old ones stay, so messages sealed to them still open), then the
    /// public key is published, which needs the account password. Contacts see a changed key and must trust it before
    /// sending again; the server ends the account's other sessions.
    /// </summary>
    public async Task<AccountInfo> RotateKeyAsync(string password, CancellationToken ct)
    {
        var account = _account.Require();
        _keys.CheckPassphrase();
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        var pair = X25519KeyPair.Generate();
        var temporary = _keys.SaveNew(account.Username, pair);
        OwnAccount own;
        try
        {
            // Once the account has an identity key, the new key comes with its certificate, for this device and the next key id.
            var certificate = account.IdentityKey is null ? null : AccountRules.EncodePublicKey(DeviceCertificate.Sign(
                _keys.Identity(), new DeviceKey(account.Username, account.DeviceId, account.KeyId + 1, pair.PublicKey.ToArray())));
            own = await _users.RotateKeyAsync(token.Value, AccountRules.EncodePublicKey(pair.PublicKey), password, certificate, ct).ConfigureAwait(false);
        }
        catch
        {
            ProfileFolder.TryDelete(temporary);
            throw;
        }
        _keys.Commit(temporary, (uint)own.KeyId, pair);
        account.KeyId = (uint)own.KeyId;
        _account.Save(account);
        return AccountInfo.Of(own);
    }

    /// <summary>
    /// Gives an account from before identity keys its identity, at login (it needs the password): a new identity key and a
    /// new key for this device that it certifies, published together (the server keeps the old key for what was sealed
    /// to it). Contacts see a key change, as after a rotation: an identity never adopts a key made before it (security
    /// review H2). A profile whose account has an identity key it does not hold (a password login on a machine that was
    /// never linked) is left as it is; one that holds another identity than the server shows is told so loudly.
    /// </summary>
    private async Task EnsureIdentityAsync(string password, CancellationToken ct)
    {
        var account = _account.Require();
        if (!_keys.Has(account.KeyId)) return;
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        var published = await _users.GetDevicesAsync(account.Username, ct).ConfigureAwait(false);
        if (published?.IdentityKey is { } existing)
        {
            var mine = _keys.HasIdentity ? AccountRules.EncodePublicKey(_keys.Identity().PublicKey) : null;
            // Another identity than the one this device holds: someone with the password, or the server, set it. Said
            // loudly; the session stays, so the user can look (`sealpost devices`) and act.
            if (mine is not null && mine != existing)
                throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.OwnIdentityMismatch,
                    $"The server shows an identity key for {account.Username} (fingerprint {(AccountRules.ParseBase64Url(existing, IdentityKey.PublicKeySize) is { } theirs ? Crypto.Fingerprint.Of(theirs) : "unreadable")}) " +
                    $"that is not the one this device holds (fingerprint {Crypto.Fingerprint.Of(_keys.Identity().PublicKey)}). Your contacts are warned of it as a key change; " +
                    "if you did not do this, someone who knows your password, or the server, is trying to read your messages: change your password.");
            if (account.IdentityKey is null && mine == existing)
            {
                account.IdentityKey = existing;
                _account.Save(account);
            }
            return;
        }
        var identity = _keys.HasIdentity ? _keys.Identity() : IdentityKey.Generate();
        if (!_keys.HasIdentity) _keys.SaveIdentity(account.Username, identity);
        var pair = X25519KeyPair.Generate();
        var temporary = _keys.SaveNew(account.Username, pair);
        var certificate = DeviceCertificate.Sign(identity, new DeviceKey(account.Username, account.DeviceId, account.KeyId + 1, pair.PublicKey.ToArray()));
        try
        {
            await _users.SetIdentityAsync(token.Value, AccountRules.EncodePublicKey(identity.PublicKey), AccountRules.EncodePublicKey(pair.PublicKey),
                AccountRules.EncodePublicKey(certificate), password, ct).ConfigureAwait(false);
        }
        catch
        {
            ProfileFolder.TryDelete(temporary);
            throw;
        }
        _keys.Commit(temporary, account.KeyId + 1, pair);
        account.KeyId++;
        account.IdentityKey = AccountRules.EncodePublicKey(identity.PublicKey);
        _account.Save(account);
    }
}
