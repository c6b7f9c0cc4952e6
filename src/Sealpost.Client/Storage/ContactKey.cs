namespace Sealpost.Client.Storage;

internal sealed class ContactKey
{
    public uint KeyId { get; set; }

    /// <summary>base64url, as on the REST API.</summary>
    public string PublicKey { get; set; } = "";

    /// <summary><c>pinned</c> (first use or trusted by the user) or <c>server</c> (an older key fetched to read a message sealed before we met; only the server vouches for it, so it is never trusted).</summary>
    public string Source { get; set; } = ContactKeySources.Pinned;

    public DateTimeOffset SeenAt { get; set; }
}
