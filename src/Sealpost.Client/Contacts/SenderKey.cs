namespace Sealpost.Client.Contacts;

/// <summary>The key that opens a message from a sender, and whether the user trusts it.</summary>
internal sealed record SenderKey(byte[] PublicKey, bool Trusted, string? Note);
