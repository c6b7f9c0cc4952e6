using System.ComponentModel.DataAnnotations;

namespace Sealpost.Users.Passwords;

/// <summary>
/// How much Argon2id work one instance does at once (section <c>PasswordWork</c>). Each hash holds 19 MiB and a core
/// for tens of milliseconds, so unbounded hashing lets a flood of logins starve everything else, health checks included.
/// </summary>
public sealed class PasswordWorkOptions
{
    public const string Section = "PasswordWork";

    /// <summary>Hashes running at once; 0 means one per processor.</summary>
    [Range(0, 256)]
    public int MaxConcurrent { get; set; }

    /// <summary>Requests allowed to wait for a free slot; beyond that the answer is an immediate 503.</summary>
    [Range(0, 10_000)]
    public int MaxQueued { get; set; } = 32;

    /// <summary>The longest a queued request waits for a slot before it gets a 503.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The <c>Retry-After</c> of a 503, in seconds.</summary>
    [Range(1, 600)]
    public int RetryAfterSeconds { get; set; } = 1;

    public int Slots => MaxConcurrent > 0 ? MaxConcurrent : Environment.ProcessorCount;
}
