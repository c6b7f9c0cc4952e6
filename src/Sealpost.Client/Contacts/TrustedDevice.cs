namespace Sealpost.Client.Contacts;

/// <summary>A device to seal to: its certificate verified under the identity key pinned for its account.</summary>
internal sealed record TrustedDevice(uint DeviceId, uint KeyId, byte[] PublicKey);
