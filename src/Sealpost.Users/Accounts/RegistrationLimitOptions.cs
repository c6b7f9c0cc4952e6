using System.ComponentModel.DataAnnotations;

namespace Sealpost.Users.Accounts;

/// <summary>Registrations per client address (section <c>Registrations</c>); HAProxy has the same limit in front.</summary>
public sealed class RegistrationLimitOptions
{
    public const string Section = "Registrations";

    /// <summary>Registrations one address (an IPv6 client's /64) may make per <see cref="Window"/>; beyond that, 429.</summary>
    [Range(1, 1_000_000_000)]
    public int PerAddressPerHour { get; set; } = 20;

    /// <summary>The window the count runs over: an hour, as the name of <see cref="PerAddressPerHour"/> says (a test shortens it).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromHours(1);
}
