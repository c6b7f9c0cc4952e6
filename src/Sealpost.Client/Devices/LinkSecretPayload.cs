using Sealpost.Client.Storage;

namespace Sealpost.Client.Devices;

/// <summary>What the approving device seals to the new one (docs/devices.md, step 4): never seen by the server.</summary>
internal sealed record LinkSecretPayload(string Username, uint DeviceId, string IdentityKey, string Certificate, ContactsDocument? Contacts);
