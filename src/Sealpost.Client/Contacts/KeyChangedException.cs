using Sealpost.Protocol;

namespace Sealpost.Client.Contacts;

/// <summary>The server now publishes another key for a contact than the one pinned here; nothing is sent until the user trusts it.</summary>
public sealed class KeyChangedException(ContactStatus status) : SealpostException(
    ErrorKind.KeyChanged,
    status.PendingIdentityKey is { } identity
        ? $"The identity key of {status.Username} has changed (pinned fingerprint {status.TrustedFingerprint}; now " +
          $"{Sealpost.Crypto.Fingerprint.Of(AccountRules.ParseBase64Url(identity, Sealpost.Crypto.IdentityKey.PublicKeySize) ?? [])}). Compare safety numbers with them, " +
          $"then run 'sealpost trust {status.Username}'."
        : $"The key of {status.Username} has changed (pinned key id {status.TrustedKeyId}, fingerprint {status.TrustedFingerprint}; " +
          $"now key id {status.Pending?.KeyId}, fingerprint {status.Pending?.Fingerprint}). Compare fingerprints with them, then run " +
          $"'sealpost trust {status.Username}'.")
{
    public ContactStatus Status { get; } = status;
}
