using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Devices;

/// <summary>A link code this new device shows, and what it needs to finish once another device approves it.</summary>
public sealed class LinkRequest
{
    internal LinkRequest(LinkCode code, CreatedLink created, X25519KeyPair device, X25519KeyPair link, string deviceName)
    {
        Code = code;
        Created = created;
        Device = device;
        Link = link;
        DeviceName = deviceName;
    }

    /// <summary>What the user moves to the signed-in device: <c>sealpost-link:2:…</c> (<see cref="LinkCode.ToUri"/> for a QR code).</summary>
    public LinkCode Code { get; }

    /// <summary>The account this device asked to join: only that account can approve it, and nothing else is accepted.</summary>
    public string Username => Code.Username;

    public string DeviceName { get; }

    public DateTimeOffset ExpiresAt => Created.ExpiresAt;

    /// <summary>The new device key's fingerprint, which the approving device shows too.</summary>
    public string Fingerprint => Crypto.Fingerprint.Of(Device.PublicKey);

    internal CreatedLink Created { get; }

    internal X25519KeyPair Device { get; }

    internal X25519KeyPair Link { get; }
}
