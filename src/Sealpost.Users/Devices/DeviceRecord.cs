namespace Sealpost.Users.Devices;

/// <summary>A live device: its name (seen only by the account's own devices) and its current key.</summary>
public sealed record DeviceRecord(string Name, DateTimeOffset CreatedAt, DeviceKeyRecord Key);
