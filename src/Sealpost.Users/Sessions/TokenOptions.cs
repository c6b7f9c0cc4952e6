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

    [Range(1, 365)]
    public int RefreshTokenDays { get; set; } = 30;
}
