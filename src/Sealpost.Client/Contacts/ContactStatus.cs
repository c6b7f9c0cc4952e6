namespace Sealpost.Client.Contacts;

/// <summary>
/// Where a contact stands: the trusted key, and a changed key waiting for the user when there is one. For an account
/// with an identity key, <see cref="IdentityKey"/> is the one pinned (fingerprints and safety numbers come from it) and
/// <see cref="PendingIdentityKey"/> a different one the server shows, waiting for the user. <see cref="IdentityMissing"/>:
/// the server shows no identity key for a contact whose identity is pinned (a downgrade, refused like a change, and not
/// something the user can accept).
/// </summary>
public sealed record ContactStatus(string Username, string? DisplayName, ContactState State, uint TrustedKeyId, string TrustedPublicKey, string TrustedFingerprint, KeyInfo? Pending,
    string? IdentityKey = null, string? PendingIdentityKey = null, bool IdentityMissing = false)
{
    internal byte[] TrustedKey => KeyInfo.Decode(TrustedPublicKey);

    /// <summary>The fingerprint of <see cref="PendingIdentityKey"/>, when there is one.</summary>
    public string? PendingIdentityFingerprint => PendingIdentityKey is { } identity
        && Sealpost.Protocol.AccountRules.ParseBase64Url(identity, Sealpost.Crypto.IdentityKey.PublicKeySize) is { } key ? Sealpost.Crypto.Fingerprint.Of(key) : null;
}
