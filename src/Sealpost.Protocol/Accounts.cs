namespace Sealpost.Protocol;

/// <summary>POST /v1/accounts: the account and its first device (id 1, named <see cref="DeviceName"/> or "device 1").</summary>
/// <summary>
/// POST /v1/accounts. With <see cref="IdentityKey"/> (Ed25519, base64url) and <see cref="Certificate"/> (its signature
/// over device 1's key id 1, docs/devices.md) the account has its identity from the start, as every client makes one now.
/// </summary>
public sealed record RegisterRequest(string? Username, string? Password, string? PublicKey, string? DisplayName, string? DeviceName = null,
    string? IdentityKey = null, string? Certificate = null);

/// <summary>
/// POST /v1/sessions: a session for one of the account's devices, <see cref="DeviceId"/>; absent means the account's
/// lowest live device (device 1 unless it was removed), which is what clients from before linked devices send.
/// </summary>
public sealed record LoginRequest(string? Username, string? Password, int? DeviceId = null);

public sealed record RefreshRequest(string? RefreshToken);

/// <summary>What a successful login or refresh returns.</summary>
public sealed record SessionResponse(
    string AccessToken,
    string TokenType,
    DateTimeOffset ExpiresAt,
    string RefreshToken,
    DateTimeOffset RefreshExpiresAt);

/// <summary>The record anyone may read: enough to encrypt to the account and to verify what it sends.</summary>
public sealed record PublicAccount(
    string Username,
    string? DisplayName,
    string PublicKey,
    int KeyId,
    DateTimeOffset KeyChangedAt,
    string Fingerprint);

/// <summary>The caller's own record.</summary>
public sealed record OwnAccount(
    string Username,
    string? DisplayName,
    string PublicKey,
    int KeyId,
    DateTimeOffset KeyChangedAt,
    string Fingerprint,
    DateTimeOffset CreatedAt);

/// <summary>PATCH /v1/accounts/me: absent fields stay as they are; a new password needs the current one.</summary>
public sealed record UpdateAccountRequest(string? DisplayName, string? Password, string? CurrentPassword);

/// <summary>
/// PUT /v1/accounts/me/key: the new public key, and the current password (an access token alone is not enough). Once
/// the account has an identity key, also the new key's device certificate (docs/devices.md), for the next key id.
/// </summary>
public sealed record RotateKeyRequest(string? PublicKey, string? CurrentPassword, string? Certificate = null);

/// <summary>
/// PUT /v1/accounts/me/identity: the account's first Ed25519 identity key (base64url, 32 bytes), a NEW key for the
/// caller's device (<see cref="PublicKey"/>) and the identity's certificate for it as that device's next key id
/// (base64url, 64 bytes), with the current password. Set once; a key made before the identity is never bound to it.
/// </summary>
public sealed record SetIdentityRequest(string? IdentityKey, string? Certificate, string? CurrentPassword, string? PublicKey = null);

/// <summary>
/// GET /v1/accounts/{username}/devices: the identity key (absent until the account set one) and each device's current
/// key with its certificate. A client trusts a device only if its certificate verifies under the identity key it pinned.
/// </summary>
public sealed record DeviceList(string Username, string? IdentityKey, IReadOnlyList<PublicDevice> Devices);

public sealed record PublicDevice(int DeviceId, int KeyId, string PublicKey, string? Certificate);

/// <summary>GET /v1/accounts/me/devices: the caller's own devices, with the names only they see.</summary>
public sealed record OwnDeviceList(string Username, string? IdentityKey, int CurrentDeviceId, IReadOnlyList<OwnDevice> Devices);

public sealed record OwnDevice(int DeviceId, string Name, int KeyId, string PublicKey, string? Certificate, DateTimeOffset CreatedAt);

/// <summary>PATCH /v1/accounts/me/devices/{deviceId}: a new name (1–64 characters).</summary>
public sealed record RenameDeviceRequest(string? Name);

/// <summary>DELETE /v1/accounts/me/devices/{deviceId}: the account password, as every change to what contacts trust needs.</summary>
public sealed record RemoveDeviceRequest(string? CurrentPassword);

/// <summary>
/// POST /v1/links (no account yet): the new device's name and X25519 public key (base64url), and the username of the
/// account it means to join: only that account can fetch and approve the link.
/// </summary>
public sealed record CreateLinkRequest(string? DeviceName, string? PublicKey, string? Username);

/// <summary>The answer to <see cref="CreateLinkRequest"/>: only the new device gets <see cref="PollToken"/>.</summary>
public sealed record CreatedLink(string LinkId, string PollToken, DateTimeOffset ExpiresAt);

/// <summary>
/// GET /v1/links/{linkId}, as the account that will approve: what the new device asked with, and the device id it will
/// get if approved (reserved for this link by this request), which the approving device signs into the certificate.
/// </summary>
public sealed record PendingLink(string LinkId, string DeviceName, string PublicKey, int DeviceId, DateTimeOffset ExpiresAt);

/// <summary>
/// POST /v1/links/{linkId}/approve: the certificate for the new device's key as (username, reserved device id, key id 1),
/// and the link secret sealed to the link key (base64url; opaque to the server).
/// </summary>
public sealed record ApproveLinkRequest(string? Certificate, string? SealedSecret);

/// <summary>POST /v1/links/{linkId}/poll: the new device asks whether it was approved.</summary>
public sealed record PollLinkRequest(string? PollToken);

/// <summary>
/// The answer to a poll: <c>pending</c> (nothing else), or <c>approved</c> with the account, the new device's id, the
/// sealed link secret and a session for the new device. Approved is answered once; the link is then used up.
/// </summary>
public sealed record LinkStatus(string Status, string? Username = null, int? DeviceId = null, string? SealedSecret = null, SessionResponse? Session = null)
{
    public const string Pending = "pending";
    public const string Approved = "approved";
}

/// <summary>
/// Published by the users service on Redis (<see cref="Channel"/>) when an account's devices change (one linked, one
/// removed, the account deleted), so the messages instances forget the device list they cached for it.
/// </summary>
public sealed record DevicesChanged(string Username, int? Removed = null)
{
    public const string Channel = "sealpost:devices-changed";
}

public sealed record DeleteAccountRequest(string? CurrentPassword);

/// <summary>
/// Published by the users service on Redis (<see cref="Channel"/>) when sessions end, so the messages instances close
/// the sockets opened with them: only the session <see cref="Only"/> (a logout), or every session of the user but
/// <see cref="Except"/> (a key rotation), or every session (neither: a new password, a deleted account).
/// </summary>
public sealed record SessionsEnded(string Username, Guid? Only, Guid? Except)
{
    public const string Channel = "sealpost:sessions-ended";

    public bool Covers(Guid session) => Only is { } only ? session == only : session != Except;
}
