using System.ComponentModel.DataAnnotations;

namespace Sealpost.Users.Links;

/// <summary>Linking a new device (section <c>Links</c>).</summary>
public sealed class LinkingOptions
{
    public const string Section = "Links";

    /// <summary>How long a link can be fetched, approved and polled after it was made (docs/devices.md: 10 minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:10", "01:00:00")]
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromMinutes(10);
}
