namespace Sealpost.Client.Storage;

/// <summary><c>account.json</c>: who this profile is, on which server, which device of the account, and its current key id.</summary>
internal sealed class AccountState
{
    public string Server { get; set; } = "";
    public string Username { get; set; } = "";

    /// <summary>This profile's device of the account (1 for profiles from before linked devices).</summary>
    public uint DeviceId { get; set; } = 1;

    /// <summary>The id of this device's current key.</summary>
    public uint KeyId { get; set; }

    /// <summary>
    /// The account's identity key (base64url), once published; its private half is in <c>keys/identity.key</c>. Null for
    /// an account from before linked devices until this profile publishes one (at the next login).
    /// </summary>
    public string? IdentityKey { get; set; }

    /// <summary>Set when this profile deleted its account; the keys and history stay, the account does not.</summary>
    public DateTimeOffset? DeletedAt { get; set; }
}
