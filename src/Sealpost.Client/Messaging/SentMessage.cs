namespace Sealpost.Client.Messaging;

/// <summary>A message the server has accepted, durably: the id the sender chose, the id the server gave it, and when.</summary>
public sealed record SentMessage(string ClientId, string MessageId, string To, DateTimeOffset SentAt);
