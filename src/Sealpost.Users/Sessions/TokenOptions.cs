using System.ComponentModel.DataAnnotations;

namespace Sealpost.Users.Sessions;

/// <summary>Access and refresh tokens (section <c>Tokens</c>).</summary>
public sealed class TokenOptions
{
    public const string Section = "Tokens";

    [Required]
    public string Issuer { get; set; } = "sealpost-users";

    [Required]
    public string Audience { get; set; } = "sealpost";

    /// <summary>PEM file with the ES256 private key every instance signs with; created at first start when missing.</summary>
    [Required]
    public string SigningKeyPath { get; set; } = "";

    [Range(1, 60)]
    public int AccessTokenMinutes { get; set; } = 10;

    /// <summary>A refresh token unused this long ends its session.</summary>
    [Range(1, 365)]
    public int RefreshTokenDays { get; set; } = 30;

    /// <summary>A session ends this long after its login, however often it is refreshed: then the password is asked again.</summary>
    [Range(1, 3650)]
    public int SessionMaxDays { get; set; } = 90;

    /// <summary>When a new session's first refresh token expires: never past the session's own end.</summary>
    public DateTimeOffset FirstRefreshExpiry() => DateTimeOffset.UtcNow.AddDays(Math.Min(RefreshTokenDays, SessionMaxDays));
}
