using System.Text.Json.Serialization;

namespace Sealpost.Client.State;

/// <summary><c>$SEALPOST_HOME/config.json</c>: settings shared by every profile.</summary>
public sealed class ClientConfig
{
    public string? Server { get; set; }

    /// <summary>A PEM certificate to trust for the server's https instead of the system's authorities.</summary>
    public string? ServerCertificate { get; set; }
}

/// <summary><c>account.json</c>: who this profile is, on which server, which device of the account, and its current key id.</summary>
public sealed class AccountState
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

/// <summary><c>session.json</c> (mode 0600): the tokens of the current login.</summary>
public sealed class SessionState
{
    public string Username { get; set; } = "";
    public string AccessToken { get; set; } = "";
    public DateTimeOffset ExpiresAt { get; set; }
    public string RefreshToken { get; set; } = "";
    public DateTimeOffset RefreshExpiresAt { get; set; }
}

/// <summary><c>contacts.json</c>: the keys pinned for each contact.</summary>
public sealed class ContactsDocument
{
    public SortedDictionary<string, Contact> Contacts { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>One contact: every key accepted for it by key id, which of them is current, and a change waiting for the user.</summary>
public sealed class Contact
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

public sealed class ContactKey
{
    public uint KeyId { get; set; }

    /// <summary>base64url, as on the REST API.</summary>
    public string PublicKey { get; set; } = "";

    /// <summary><c>pinned</c> (first use or trusted by the user) or <c>server</c> (an older key fetched to read a message sealed before we met; only the server vouches for it, so it is never trusted).</summary>
    public string Source { get; set; } = ContactKeySources.Pinned;

    public DateTimeOffset SeenAt { get; set; }
}

public static class ContactKeySources
{
    public const string Pinned = "pinned";
    public const string Server = "server";
}

/// <summary><c>history.json</c> (mode 0600): every message sent and received on this device.</summary>
public sealed class HistoryDocument
{
    public List<HistoryEntry> Messages { get; set; } = [];
}

/// <summary>One message in the local history.</summary>
public sealed class HistoryEntry
{
    /// <summary>The server's message id (incoming), or the message id the server gave a sent message.</summary>
    public string Id { get; set; } = "";

    /// <summary>The id the sender chose (incoming, when the server says it): a resend has the same one under a new <see cref="Id"/>.</summary>
    public string? ClientId { get; set; }

    /// <summary><c>in</c> or <c>out</c>.</summary>
    public string Direction { get; set; } = "";

    /// <summary>The other party: the sender of an incoming message, the recipient of an outgoing one.</summary>
    public string Peer { get; set; } = "";

    /// <summary>The plaintext; null when the message was rejected or is a file.</summary>
    public string? Text { get; set; }

    /// <summary>For a file: the name the sender gave it, as sent (not yet safe as a path).</summary>
    public string? FileName { get; set; }

    public int? FileSize { get; set; }

    /// <summary>For a received file: its bytes (base64 in the JSON), kept so it can be saved later with <c>history --save-to</c>.</summary>
    public byte[]? FileData { get; set; }

    public DateTimeOffset SentAt { get; set; }
    public DateTimeOffset StoredAt { get; set; }

    /// <summary>See <see cref="MessageStatus"/>.</summary>
    public string Status { get; set; } = MessageStatus.Ok;

    /// <summary>Why a message is rejected or unverified, for people.</summary>
    public string? Problem { get; set; }

    public uint? SenderKeyId { get; set; }
    public uint? RecipientKeyId { get; set; }

    /// <summary>The sender's device (incoming messages from an account with linked devices; absent means device 1).</summary>
    public uint? FromDevice { get; set; }

    /// <summary>The envelope (standard base64) of a rejected message, kept so it can be examined.</summary>
    public string? Envelope { get; set; }
}

public static class MessageStatus
{
    /// <summary>Opened and verified with a key the user trusts (pinned on first use or accepted).</summary>
    public const string Ok = "ok";

    /// <summary>Opened and verified, but with a key of the sender's that the user has not accepted yet.</summary>
    public const string UnverifiedKey = "unverified_key";

    /// <summary>Could not be opened or verified; kept with its envelope and acknowledged so it is not delivered forever.</summary>
    public const string Rejected = "rejected";

    /// <summary>Sent by this device and accepted by the server.</summary>
    public const string Sent = "sent";

    /// <summary>
    /// A delivery receipt from the peer's device (payload <c>FF 02</c>): acknowledged, never kept or shown as a message.
    /// </summary>
    public const string Receipt = "receipt";
}

public static class MessageDirections
{
    public const string In = "in";
    public const string Out = "out";
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(ClientConfig))]
[JsonSerializable(typeof(AccountState))]
[JsonSerializable(typeof(SessionState))]
[JsonSerializable(typeof(ContactsDocument))]
[JsonSerializable(typeof(HistoryDocument))]
internal sealed partial class LocalJsonContext : JsonSerializerContext;
