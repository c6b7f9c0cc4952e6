using System.ComponentModel.DataAnnotations;

namespace Sealpost.Messages.Identity;

/// <summary>Where the users service answers (section <c>Users</c>): its JWKS, its public records, whether a session is live.</summary>
internal sealed class UsersOptions
{
    public const string Section = "Users";

    [Required]
    public Uri BaseUrl { get; set; } = new("http://127.0.0.1:8080/");

    [Required]
    public string Issuer { get; set; } = "sealpost-users";

    [Required]
    public string Audience { get; set; } = "sealpost";

    /// <summary>
    /// How long an account's device list is believed without asking again. Changes are announced on Redis and a send that
    /// disagrees asks again, so this only bounds how long a missed announcement can matter.
    /// </summary>
    public TimeSpan RecipientCacheTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long the users service's "this session is live" is believed (<see cref="LiveSessions"/>): an ended session's
    /// token can open or renew a socket for at most this long after it ended. Under a second.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:00.999")]
    public TimeSpan LiveSessionCacheTime { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long "no such user" is believed: short, so a fresh registration is soon reachable.</summary>
    public TimeSpan UnknownRecipientCacheTime { get; set; } = TimeSpan.FromSeconds(5);
}
