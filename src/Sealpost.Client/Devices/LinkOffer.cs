using Sealpost.Crypto;

namespace Sealpost.Client.Devices;

/// <summary>What a signed-in device shows before approving a link: the new device's name, fingerprint and device id.</summary>
public sealed record LinkOffer(LinkCode Code, string DeviceName, string Fingerprint, uint DeviceId)
{
    /// <summary>The new device's key, checked against the code's commitment.</summary>
    internal byte[] PublicKey { get; init; } = [];
}
