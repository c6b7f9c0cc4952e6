namespace Sealpost.Client.Storage;

/// <summary><c>session.json</c> (mode 0600): the tokens of the current login.</summary>
internal sealed class SessionState
{
    public string Username { get; set; } = "";
    public string AccessToken { get; set; } = "";
    public DateTimeOffset ExpiresAt { get; set; }
    public string RefreshToken { get; set; } = "";
    public DateTimeOffset RefreshExpiresAt { get; set; }
}
