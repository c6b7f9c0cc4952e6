namespace Sealpost.Client.Devices;

/// <summary>The devices of this account, in the order of their ids, and which of them this profile is.</summary>
public sealed record AccountDevices(string Username, uint CurrentDeviceId, IReadOnlyList<DeviceInfo> Devices);
