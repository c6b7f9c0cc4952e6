namespace Sealpost.Protocol;

public sealed record RegisterRequest(string? Username, string? Password, string? PublicKey, string? DisplayName);

public sealed record LoginRequest(string? Username, string? Password);

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
/// PUT /v1/accounts/me/identity: the account's Ed25519 identity key (base64url, 32 bytes) and its certificate for the
/// account's current key as device 1 (base64url, 64 bytes), with the current password. Set once.
/// </summary>
public sealed record SetIdentityRequest(string? IdentityKey, string? Certificate, string? CurrentPassword);

/// <summary>
/// GET /v1/accounts/{username}/devices: the identity key (absent until the account set one) and each device's current
/// key with its certificate. A client trusts a device only if its certificate verifies under the identity key it pinned.
/// </summary>
public sealed record DeviceList(string Username, string? IdentityKey, IReadOnlyList<PublicDevice> Devices);

public sealed record PublicDevice(int DeviceId, int KeyId, string PublicKey, string? Certificate);

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
