using Sealpost.Client.Storage;

namespace Sealpost.Client.Accounts;

/// <summary>The account this profile holds, as kept here: who, on which server, which device of it, and its current key.</summary>
/// <param name="Username">The account's name.</param>
/// <param name="Server">The server this profile registered or logged in at.</param>
/// <param name="DeviceId">This profile's device of the account (1 for the device that registered).</param>
/// <param name="KeyId">The id of this device's current key.</param>
/// <param name="IdentityKey">The account's identity key (base64url), once published; null for an account from before linked devices.</param>
/// <param name="DeletedAt">When this profile deleted the account; its keys and history stay.</param>
public sealed record LocalAccount(string Username, string Server, uint DeviceId, uint KeyId, string? IdentityKey, DateTimeOffset? DeletedAt)
{
    internal static LocalAccount Of(AccountState state) =>
        new(state.Username, state.Server, state.DeviceId, state.KeyId, state.IdentityKey, state.DeletedAt);
}
