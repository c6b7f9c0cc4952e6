using System.Buffers.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sealpost.Client.State;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client;

/// <summary>A link code this new device shows, and what it needs to finish once another device approves it.</summary>
public sealed class LinkRequest
{
    internal LinkRequest(LinkCode code, CreatedLink created, X25519KeyPair device, X25519KeyPair link, string deviceName)
    {
        Code = code;
        Created = created;
        Device = device;
        Link = link;
        DeviceName = deviceName;
    }

    /// <summary>What the user moves to the signed-in device: <c>sealpost-link:1:…</c> (<see cref="LinkCode.ToUri"/> for a QR code).</summary>
    public LinkCode Code { get; }

    public string DeviceName { get; }

    public DateTimeOffset ExpiresAt => Created.ExpiresAt;

    /// <summary>The new device key's fingerprint, which the approving device shows too.</summary>
    public string Fingerprint => Crypto.Fingerprint.Of(Device.PublicKey);

    internal CreatedLink Created { get; }

    internal X25519KeyPair Device { get; }

    internal X25519KeyPair Link { get; }
}

/// <summary>What a signed-in device shows before approving a link: the new device's name, fingerprint and device id.</summary>
public sealed record LinkOffer(LinkCode Code, string DeviceName, string Fingerprint, uint DeviceId, byte[] PublicKey);

/// <summary>What the approving device seals to the new one (docs/devices.md, step 4): never seen by the server.</summary>
internal sealed record LinkSecretPayload(string Username, uint DeviceId, string IdentityKey, string Certificate, ContactsDocument? Contacts);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LinkSecretPayload))]
internal sealed partial class LinkJsonContext : JsonSerializerContext;

public sealed partial class SealpostClient
{
    private static readonly TimeSpan LinkPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Makes and publishes the account's identity key if the account has none yet (an account from before linked devices,
    /// or a registration): it certifies this device's current key. Needs the account password; run at login. A profile
    /// whose account has an identity key it does not hold (a password login on a machine that was never linked) is left
    /// as it is: it can read what is sealed to it but should be linked to send.
    /// </summary>
    private async Task EnsureIdentityAsync(string password, CancellationToken ct)
    {
        var account = RequireAccount();
        if (!Keys.Has(account.KeyId)) return;
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        var published = await Users.GetDevicesAsync(account.Username, ct).ConfigureAwait(false);
        if (published?.IdentityKey is { } existing)
        {
            if (account.IdentityKey is null && Keys.HasIdentity && AccountRules.EncodePublicKey(Keys.Identity().PublicKey) == existing)
            {
                account.IdentityKey = existing;
                SaveAccount(account);
            }
            return;
        }
        var identity = Keys.HasIdentity ? Keys.Identity() : IdentityKey.Generate();
        if (!Keys.HasIdentity) Keys.SaveIdentity(account.Username, identity);
        var certificate = DeviceCertificate.Sign(identity, new DeviceKey(account.Username, account.DeviceId, account.KeyId, Keys.PublicKeyOf(account.KeyId)));
        await Users.SetIdentityAsync(token.Value, AccountRules.EncodePublicKey(identity.PublicKey), AccountRules.EncodePublicKey(certificate), password, ct)
            .ConfigureAwait(false);
        account.IdentityKey = AccountRules.EncodePublicKey(identity.PublicKey);
        SaveAccount(account);
    }

    /// <summary>
    /// Step 1 on the new device (docs/devices.md): makes its device key and a one-time link key, and asks the server for a
    /// link. Show <see cref="LinkRequest.Code"/> to the user, then wait with <see cref="CompleteLinkAsync"/>.
    /// </summary>
    public async Task<LinkRequest> RequestLinkAsync(string deviceName, CancellationToken ct)
    {
        if (Account is { } existing)
            throw new SealpostException(ErrorKind.Invalid, $"Profile '{Profile.Name}' already holds the account {existing.Username}; link into another --profile.");
        var device = X25519KeyPair.Generate();
        var link = X25519KeyPair.Generate();
        var created = await Users.CreateLinkAsync(deviceName, AccountRules.EncodePublicKey(device.PublicKey), ct).ConfigureAwait(false);
        return new LinkRequest(LinkCode.For(created.LinkId, link.PublicKey, device.PublicKey), created, device, link, deviceName);
    }

    /// <summary>
    /// Waits until a signed-in device approves the link (or it expires), then opens the link secret, checks that the
    /// certificate it carries is for this device's key under the identity key it carries, and writes the profile: device
    /// key, identity key, account, session, and the contacts the approving device had pinned.
    /// </summary>
    public async Task<AccountState> CompleteLinkAsync(LinkRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        LinkStatus status;
        while (true)
        {
            status = await Users.PollLinkAsync(request.Created.LinkId, request.Created.PollToken, ct).ConfigureAwait(false);
            if (status.Status == LinkStatus.Approved) break;
            await Task.Delay(LinkPollInterval, _options.Time ?? TimeProvider.System, ct).ConfigureAwait(false);
        }
        if (status.Username is null || status.DeviceId is not { } deviceId || status.SealedSecret is null || status.Session is null
            || AccountRules.NormalizeUsername(status.Username) != status.Username)
            throw new SealpostException(ErrorKind.Crypto, "The server's answer to the approved link is incomplete.");
        LinkSecretPayload payload;
        IdentityKey identity;
        try
        {
            var sealedSecret = Base64Url.DecodeFromChars(status.SealedSecret);
            payload = JsonSerializer.Deserialize(LinkSecret.Open(sealedSecret, request.Code.LinkId, request.Link.PrivateKey), LinkJsonContext.Default.LinkSecretPayload)
                ?? throw new JsonException("empty");
            identity = IdentityKey.FromPrivateKey(Base64Url.DecodeFromChars(payload.IdentityKey));
        }
        catch (Exception e) when (e is CryptoException or JsonException or FormatException or ArgumentException)
        {
            throw new SealpostException(ErrorKind.Crypto, $"The link secret does not open or is malformed ({e.Message}); link again.", e);
        }
        var certificate = AccountRules.ParseBase64Url(payload.Certificate, IdentityKey.SignatureSize);
        if (payload.Username != status.Username || payload.DeviceId != (uint)deviceId || certificate is null
            || !DeviceCertificate.Verify(identity.PublicKey, new DeviceKey(payload.Username, payload.DeviceId, 1, request.Device.PublicKey.ToArray()), certificate))
            throw new SealpostException(ErrorKind.Crypto, "The link secret does not certify this device's key for the account the server named; nothing was saved.");

        Profile.EnsureExists();
        Keys.Commit(Keys.SaveNew(payload.Username, request.Device), 1, request.Device);
        Keys.SaveIdentity(payload.Username, identity);
        if (payload.Contacts is { } contacts && !File.Exists(Profile.ContactsFile)) Profile.Write(Profile.ContactsFile, contacts, LocalJsonContext.Default.ContactsDocument);
        var account = new AccountState
        {
            Server = _http.BaseAddress!.AbsoluteUri,
            Username = payload.Username,
            DeviceId = payload.DeviceId,
            KeyId = 1,
            IdentityKey = AccountRules.EncodePublicKey(identity.PublicKey),
        };
        SaveAccount(account);
        Session.Save(status.Session, payload.Username);
        return account;
    }

    /// <summary>
    /// Step 3 on the signed-in device: reads the link the code names and checks the new device's key against the code's
    /// commitment, so a key the server swapped in is refused here. Show the offer to the user before approving it.
    /// </summary>
    public async Task<LinkOffer> InspectLinkAsync(string code, CancellationToken ct)
    {
        LinkCode parsed;
        try
        {
            parsed = LinkCode.Parse(code);
        }
        catch (FormatException e)
        {
            throw new SealpostException(ErrorKind.Invalid, e.Message, e);
        }
        RequireAccount();
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        var pending = await Users.GetLinkAsync(token.Value, parsed.LinkId, ct).ConfigureAwait(false);
        var key = AccountRules.ParsePublicKey(pending.PublicKey);
        if (key is null || !parsed.Matches(key) || pending.LinkId != parsed.LinkId || pending.DeviceId < 1)
            throw new SealpostException(ErrorKind.Crypto,
                "The server's copy of the new device's key does not match the link code: refusing to link it. Nobody but the server could have changed it.");
        return new LinkOffer(parsed, pending.DeviceName, Fingerprint.Of(key), (uint)pending.DeviceId, key);
    }

    /// <summary>
    /// Step 4: certifies the new device's key as device <see cref="LinkOffer.DeviceId"/> with the identity key, and seals
    /// the identity key, the certificate and the pinned contacts to the link key; the server sees only the certificate.
    /// </summary>
    public async Task ApproveLinkAsync(LinkOffer offer, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(offer);
        var account = RequireAccount();
        if (account.IdentityKey is null)
            throw new SealpostException(ErrorKind.Invalid, "This device holds no identity key for the account yet: log in again with the password on it first.");
        var identity = Keys.Identity();
        var certificate = DeviceCertificate.Sign(identity, new DeviceKey(account.Username, offer.DeviceId, 1, offer.PublicKey));
        var privateKey = identity.ExportPrivateKey();
        byte[] secret;
        try
        {
            var contacts = Profile.Read(Profile.ContactsFile, LocalJsonContext.Default.ContactsDocument);
            var payload = new LinkSecretPayload(account.Username, offer.DeviceId, Base64Url.EncodeToString(privateKey), AccountRules.EncodePublicKey(certificate), contacts);
            var bytes = JsonSerializer.SerializeToUtf8Bytes(payload, LinkJsonContext.Default.LinkSecretPayload);
            // Too many contacts to carry: the new device pins them again on first use instead.
            if (bytes.Length > LinkSecret.MaxPayloadSize) bytes = JsonSerializer.SerializeToUtf8Bytes(payload with { Contacts = null }, LinkJsonContext.Default.LinkSecretPayload);
            secret = LinkSecret.Seal(offer.Code, bytes);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(privateKey);
        }
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        await Users.ApproveLinkAsync(token.Value, offer.Code.LinkId, AccountRules.EncodePublicKey(certificate), Base64Url.EncodeToString(secret), ct).ConfigureAwait(false);
    }

    /// <summary>This account's devices, with the names only its own devices see.</summary>
    public async Task<OwnDeviceList> DevicesAsync(CancellationToken ct)
    {
        RequireAccount();
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        return await Users.GetOwnDevicesAsync(token.Value, ct).ConfigureAwait(false);
    }

    public async Task<OwnDevice> RenameDeviceAsync(uint deviceId, string name, CancellationToken ct)
    {
        RequireAccount();
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        return await Users.RenameDeviceAsync(token.Value, deviceId, name, ct).ConfigureAwait(false);
    }

    /// <summary>Removes a device of this account: its sessions end, its mailbox goes, and senders stop sealing to it.</summary>
    public async Task RemoveDeviceAsync(uint deviceId, CancellationToken ct)
    {
        RequireAccount();
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        await Users.RemoveDeviceAsync(token.Value, deviceId, ct).ConfigureAwait(false);
    }
}
