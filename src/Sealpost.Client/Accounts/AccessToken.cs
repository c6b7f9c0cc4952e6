namespace Sealpost.Client.Accounts;

/// <summary>A valid access token and when it expires.</summary>
internal sealed record AccessToken(string Value, DateTimeOffset ExpiresAt);
