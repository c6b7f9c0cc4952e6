namespace Sealpost.Client.Storage;

/// <summary>One contact: every key accepted for it by key id, which of them is current, and a change waiting for the user.</summary>
internal sealed class Contact
{
    public string Username { get; set; } = "";
    public string? DisplayName { get; set; }

    /// <summary>The key id messages are sealed to; it was pinned on first use or accepted with <c>trust</c>.</summary>
    public uint TrustedKeyId { get; set; }

    /// <summary>True once the user ran <c>trust</c> for the current key, saying they compared fingerprints.</summary>
    public bool Verified { get; set; }

    public SortedDictionary<uint, ContactKey> Keys { get; set; } = [];

    /// <summary>A key the server published that differs from the trusted one; refused for sending until trusted.</summary>
    public ContactKey? Pending { get; set; }

    /// <summary>
    /// The contact's identity key (base64url), pinned on first use or accepted with <c>trust</c>: a device is sealed to
    /// only if this key signed its certificate. Null for a contact whose account has no identity key (yet).
    /// </summary>
    public string? IdentityKey { get; set; }

    /// <summary>An identity key the server published that differs from the pinned one; sending is refused until trusted.</summary>
    public string? PendingIdentityKey { get; set; }
}
