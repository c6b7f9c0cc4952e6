using Sealpost.Protocol;

namespace Sealpost.Client.Contacts;

/// <summary>Where public keys come from: the users service, or a fake in tests.</summary>
internal interface IKeyDirectory
{
    /// <summary>The current record, or null when there is no such account.</summary>
    Task<PublicAccount?> GetAccountAsync(string username, CancellationToken ct);

    /// <summary>The record as it was under an older key id, or null when there is no such key.</summary>
    Task<PublicAccount?> GetKeyAsync(string username, uint keyId, CancellationToken ct);

    /// <summary>The identity key and the devices' current keys with certificates, or null when there is no such account.</summary>
    Task<DeviceList?> GetDevicesAsync(string username, CancellationToken ct);

    /// <summary>One key of one device (also of a removed device) with its certificate, or null.</summary>
    Task<PublicDevice?> GetDeviceKeyAsync(string username, uint deviceId, uint keyId, CancellationToken ct);
}
