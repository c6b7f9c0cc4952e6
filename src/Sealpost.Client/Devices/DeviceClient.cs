using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using Sealpost.Client.Accounts;
using Sealpost.Client.Storage;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Devices;

/// <summary>
/// The devices of this account: list, rename and remove them, and link a new one (docs/devices.md). The new device shows
/// a code, a signed-in device approves it; the code, not the server, says which key is being linked.
/// </summary>
public sealed class DeviceClient
{
    private static readonly TimeSpan LinkPollInterval = TimeSpan.FromSeconds(1);

    private readonly Uri _server;
    private readonly ProfileFolder _profile;
    private readonly ProfileAccount _account;
    private readonly KeyRing _keys;
    private readonly UsersApiClient _users;
    private readonly SessionKeeper _session;
    private readonly TimeProvider _time;

    internal DeviceClient(Uri server, ProfileFolder profile, ProfileAccount account, KeyRing keys, UsersApiClient users, SessionKeeper session, TimeProvider time)
    {
        _server = server;
        _profile = profile;
        _account = account;
        _keys = keys;
        _users = users;
        _session = session;
        _time = time;
    }

    /// <summary>This account's devices, with the names only its own devices see, each checked against the identity key held here.</summary>
    public async Task<AccountDevices> ListAsync(CancellationToken ct)
    {
        var account = _account.Require();
        var token = await _session.GetAsync(ct).ConfigureAwait(false);
        var list = await _users.GetOwnDevicesAsync(token.Value, ct).ConfigureAwait(false);
        var identity = ProfileAccount.IdentityOf(account);
        return new AccountDevices(list.Username, (uint)list.CurrentDeviceId,
            [.. list.Devices.OrderBy(d => d.DeviceId).Select(d => Describe(list.Username, identity, d, list.CurrentDeviceId))]);
    }

    public async Task<DeviceInfo> RenameAsync(uint deviceId, string name, CancellationToken ct)
    {
        var account = _account.Require();
        var token = await _session.GetAsync(ct).ConfigureAwait(false);
        var renamed = await _users.RenameDeviceAsync(token.Value, deviceId, name, ct).ConfigureAwait(false);
        return Describe(account.Username, ProfileAccount.IdentityOf(account), renamed, (int)account.DeviceId);
    }

    /// <summary>
    /// Removes a device of this account: its sessions end, its mailbox goes, and senders stop sealing to it. Needs the
    /// account password, so a device's token alone cannot cut the account's other devices off.
    /// </summary>
    public async Task RemoveAsync(uint deviceId, string currentPassword, CancellationToken ct)
    {
        _account.Require();
        var token = await _session.GetAsync(ct).ConfigureAwait(false);
        await _users.RemoveDeviceAsync(token.Value, deviceId, currentPassword, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Step 1 on the new device (docs/devices.md): makes its device key and a one-time link key, and asks the server for a
    /// link to <paramref name="username"/>'s account, which alone can approve it. Show <see cref="LinkRequest.Code"/> to
    /// the user, then wait with <see cref="CompleteLinkAsync"/>.
    /// </summary>
    public async Task<LinkRequest> RequestLinkAsync(string username, string deviceName, CancellationToken ct)
    {
        if (_account.Read() is { } existing)
            throw new ProfileException(ErrorKind.Invalid, ClientErrorCodes.ProfileHasAccount, _profile.Name, LocalAccount.Of(existing),
                $"Profile '{_profile.Name}' already holds the account {existing.Username}.");
        var account = AccountRules.NormalizeUsername(username)
            ?? throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.InvalidUsername, "A username is 3 to 32 characters: letters a-z, digits and underscore.");
        var device = X25519KeyPair.Generate();
        var link = X25519KeyPair.Generate();
        var created = await _users.CreateLinkAsync(account, deviceName, AccountRules.EncodePublicKey(device.PublicKey), ct).ConfigureAwait(false);
        return new LinkRequest(LinkCode.For(account, created.LinkId, link.PublicKey, device.PublicKey), created, device, link, deviceName);
    }

    /// <summary>
    /// Waits until a signed-in device approves the link (or it expires), then opens the link secret, checks that the
    /// certificate it carries is for this device's key under the identity key it carries, and writes the profile: device
    /// key, identity key, account, session, and the contacts the approving device had pinned.
    /// </summary>
    public async Task<LocalAccount> CompleteLinkAsync(LinkRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        LinkStatus status;
        while (true)
        {
            status = await _users.PollLinkAsync(request.Created.LinkId, request.Created.PollToken, ct).ConfigureAwait(false);
            if (status.Status == LinkStatus.Approved) break;
            await Task.Delay(LinkPollInterval, _time, ct).ConfigureAwait(false);
        }
        if (status.Username is null || status.DeviceId is not { } deviceId || status.SealedSecret is null || status.Session is null
            || AccountRules.NormalizeUsername(status.Username) != status.Username)
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.LinkAnswerIncomplete, "The server's answer to the approved link is incomplete.");
        if (status.Username != request.Username)
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.LinkSecretInvalid,
                $"The server says {status.Username} approved this device, which asked to join {request.Username}: nothing was saved.");
        LinkSecretPayload payload;
        IdentityKey identity;
        try
        {
            var sealedSecret = Base64Url.DecodeFromChars(status.SealedSecret);
            payload = JsonSerializer.Deserialize(LinkSecret.Open(sealedSecret, request.Username, request.Code.LinkId, request.Link.PrivateKey), LinkJsonContext.Default.LinkSecretPayload)
                ?? throw new JsonException("empty");
            identity = IdentityKey.FromPrivateKey(Base64Url.DecodeFromChars(payload.IdentityKey));
        }
        catch (Exception e) when (e is CryptoException or JsonException or FormatException or ArgumentException)
        {
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.LinkSecretInvalid, $"The link secret does not open or is malformed ({e.Message}); link again.", e);
        }
        var certificate = AccountRules.ParseBase64Url(payload.Certificate, IdentityKey.SignatureSize);
        if (payload.Username != status.Username || payload.DeviceId != (uint)deviceId || certificate is null
            || !DeviceCertificate.Verify(identity.PublicKey, new DeviceKey(payload.Username, payload.DeviceId, 1, request.Device.PublicKey.ToArray()), certificate))
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.LinkSecretInvalid, "The link secret does not certify this device's key for the account the server named; nothing was saved.");

        _profile.EnsureExists();
        _keys.Commit(_keys.SaveNew(payload.Username, request.Device), 1, request.Device);
        _keys.SaveIdentity(payload.Username, identity);
        if (payload.Contacts is { } contacts && !File.Exists(_profile.ContactsFile)) _profile.Write(_profile.ContactsFile, contacts, LocalJsonContext.Default.ContactsDocument);
        var account = new AccountState
        {
            Server = _server.AbsoluteUri,
            Username = payload.Username,
            DeviceId = payload.DeviceId,
            KeyId = 1,
            IdentityKey = AccountRules.EncodePublicKey(identity.PublicKey),
        };
        _account.Save(account);
        _session.Save(status.Session, payload.Username);
        return LocalAccount.Of(account);
    }

    /// <summary>
    /// Step 3 on the signed-in device: reads the code (a typo in it is refused here, before the server is asked), checks
    /// that it names this account, reads the link it names, checks the new device's key against the code's commitment
    /// (a key the server swapped in is refused here) and the device id the server reserved against the account's devices
    /// (one it already uses is refused here). Show the offer to the user before approving it.
    /// </summary>
    public async Task<LinkOffer> InspectLinkAsync(string code, CancellationToken ct)
    {
        LinkCode parsed;
        try
        {
            parsed = LinkCode.Parse(code);
        }
        catch (LinkCodeException e)
        {
            throw new SealpostException(ErrorKind.Invalid, e.Mistyped ? ClientErrorCodes.LinkCodeMistyped : ClientErrorCodes.InvalidLinkCode, e.Message, e);
        }
        var account = _account.Require();
        if (parsed.Username != account.Username)
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.LinkForAnotherAccount,
                $"This link code is for joining {parsed.Username}'s account, and this is {account.Username}'s: accept it on a device of {parsed.Username}, or run 'sealpost link' on the new device again naming {account.Username}.");
        var token = await _session.GetAsync(ct).ConfigureAwait(false);
        var pending = await _users.GetLinkAsync(token.Value, parsed.LinkId, ct).ConfigureAwait(false);
        var key = AccountRules.ParsePublicKey(pending.PublicKey);
        if (key is null || !parsed.Matches(key) || pending.LinkId != parsed.LinkId)
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.LinkKeyMismatch,
                "The server's copy of the new device's key does not match the link code: refusing to link it. The code's check shows it was copied right, so nobody but the server could have changed the key.");
        // Security review L3: a device id the account uses already would have the identity key certify the new key as that device.
        var devices = await _users.GetOwnDevicesAsync(token.Value, ct).ConfigureAwait(false);
        var highest = devices.Devices.Count == 0 ? 0 : devices.Devices.Max(d => d.DeviceId);
        if (pending.DeviceId <= highest || pending.DeviceId < 1)
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.LinkDeviceIdTaken,
                $"The server offers device {pending.DeviceId} for the new device, and your account's devices go up to {highest} already: refusing to certify the new key as that device.");
        return new LinkOffer(parsed, pending.DeviceName, Fingerprint.Of(key), (uint)pending.DeviceId) { PublicKey = key };
    }

    /// <summary>
    /// Step 4: certifies the new device's key as device <see cref="LinkOffer.DeviceId"/> with the identity key, and seals
    /// the identity key, the certificate and the pinned contacts to the link key; the server sees only the certificate.
    /// </summary>
    public async Task ApproveLinkAsync(LinkOffer offer, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(offer);
        var account = _account.Require();
        if (account.IdentityKey is null)
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.NoIdentityKey, "This device holds no identity key for the account yet: log in again with the password on it first.");
        var identity = _keys.Identity();
        var certificate = DeviceCertificate.Sign(identity, new DeviceKey(account.Username, offer.DeviceId, 1, offer.PublicKey));
        var privateKey = identity.ExportPrivateKey();
        byte[] secret;
        try
        {
            var contacts = _profile.Read(_profile.ContactsFile, LocalJsonContext.Default.ContactsDocument);
            var payload = new LinkSecretPayload(account.Username, offer.DeviceId, Base64Url.EncodeToString(privateKey), AccountRules.EncodePublicKey(certificate), contacts);
            var bytes = JsonSerializer.SerializeToUtf8Bytes(payload, LinkJsonContext.Default.LinkSecretPayload);
            // Too many contacts to carry: the new device pins them again on first use instead.
            if (bytes.Length > LinkSecret.MaxPayloadSize) bytes = JsonSerializer.SerializeToUtf8Bytes(payload with { Contacts = null }, LinkJsonContext.Default.LinkSecretPayload);
            secret = LinkSecret.Seal(offer.Code, bytes);
            CryptographicOperations.ZeroMemory(bytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(privateKey);
        }
        var token = await _session.GetAsync(ct).ConfigureAwait(false);
        await _users.ApproveLinkAsync(token.Value, offer.Code.LinkId, AccountRules.EncodePublicKey(certificate), Base64Url.EncodeToString(secret), ct).ConfigureAwait(false);
    }

    private static DeviceInfo Describe(string username, byte[]? identity, OwnDevice device, int currentDeviceId)
    {
        var key = AccountRules.ParsePublicKey(device.PublicKey);
        return new DeviceInfo((uint)device.DeviceId, device.Name, (uint)device.KeyId, key is null ? null : Fingerprint.Of(key), device.CreatedAt,
            device.DeviceId == currentDeviceId, Certified(username, identity, key, device));
    }

    /// <summary>Whether the identity key signed the device's key; null when there is no identity key to check with.</summary>
    private static bool? Certified(string username, byte[]? identity, byte[]? key, OwnDevice device)
    {
        if (identity is null) return null;
        var certificate = AccountRules.ParseBase64Url(device.Certificate, IdentityKey.SignatureSize);
        return key is not null && certificate is not null && device.DeviceId > 0 && device.KeyId > 0
            && DeviceCertificate.Verify(identity, new DeviceKey(username, (uint)device.DeviceId, (uint)device.KeyId, key), certificate);
    }
}
