namespace Sealpost.Client.Devices;

/// <summary>One device of this account, as its own devices see it.</summary>
/// <param name="DeviceId">Its id in the account, from 1.</param>
/// <param name="Name">The name only the account's own devices see.</param>
/// <param name="KeyId">The id of its current key.</param>
/// <param name="Fingerprint">The fingerprint of the device's current key; null when the server's copy is not a key.</param>
/// <param name="CreatedAt">When it was registered or linked.</param>
/// <param name="Current">Whether it is the device this profile is.</param>
/// <param name="Certified">
/// Whether the identity key this profile holds signed the device's key, as every sender checks (docs/devices.md): false
/// for a device the server made up, which nobody sends to. Null when this profile knows no identity key to check with.
/// </param>
public sealed record DeviceInfo(uint DeviceId, string Name, uint KeyId, string? Fingerprint, DateTimeOffset CreatedAt, bool Current, bool? Certified);
