namespace Sealpost.Client.Contacts;

/// <summary>
/// Where a contact stands: the trusted key, and a changed key waiting for the user when there is one. For an account
/// with an identity key, <see cref="IdentityKey"/> is the one pinned (fingerprints and safety numbers come from it) and
/// <see cref="PendingIdentityKey"/> a different one the server shows, waiting for the user.
/// </summary>
public sealed record ContactStatus(string Username, string? DisplayName, ContactState State, uint TrustedKeyId, string TrustedPublicKey, string TrustedFingerprint, KeyInfo? Pending,
    string? IdentityKey = null, string? PendingIdentityKey = null)
{
    internal byte[] TrustedKey => KeyInfo.Decode(TrustedPublicKey);
}
