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

/// <summary>PUT /v1/accounts/me/key: the new public key, and the current password (an access token alone is not enough).</summary>
public sealed record RotateKeyRequest(string? PublicKey, string? CurrentPassword);

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
