using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Sealpost.Users.Passwords;

namespace Sealpost.Users.Monitoring;

/// <summary>
/// The users service's instruments (meter <c>Sealpost.Users</c>), exported on <c>/metrics</c> beside ASP.NET Core's
/// requests by route and status. Never a username or an address as a label.
/// </summary>
public static class UsersMetrics
{
    public const string MeterName = "Sealpost.Users";
    private static readonly Meter Meter = new(MeterName);

    public static readonly KeyValuePair<string, object?> Succeeded = new("outcome", "succeeded");
    public static readonly KeyValuePair<string, object?> Failed = new("outcome", "failed");
    public static readonly KeyValuePair<string, object?> Throttled = new("outcome", "throttled");
    public static readonly KeyValuePair<string, object?> QueueFull = new("reason", "queue_full");
    public static readonly KeyValuePair<string, object?> WaitedTooLong = new("reason", "waited_too_long");

    public static readonly Counter<long> Logins =
        Meter.CreateCounter<long>("sealpost.logins", "{login}", "POST /v1/sessions answered, by outcome: succeeded, failed (wrong name or password), throttled (429, not checked)");

    public static readonly Counter<long> ThrottledChecks =
        Meter.CreateCounter<long>("sealpost.password.checks.throttled", "{check}",
            "Password checks refused by the per-name or per-address throttle before any hashing (logins and current_password alike)");

    public static readonly Counter<long> Busy =
        Meter.CreateCounter<long>("sealpost.password.work.busy", "{request}", "Requests answered 503 busy because no hashing slot was free, by reason: queue_full, waited_too_long");

    public static readonly Histogram<double> HashDuration = Meter.CreateHistogram(
        "sealpost.password.hash.duration", "s", "Time of one Argon2id hash or verification, in its slot",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2] });

    /// <summary>Gauges read when Prometheus scrapes.</summary>
    public static void Observe(IServiceProvider services)
    {
        var work = services.GetRequiredService<PasswordWork>();
        var options = services.GetRequiredService<IOptions<PasswordWorkOptions>>().Value;
        Meter.CreateObservableGauge("sealpost.password.hashes.running", () => work.Running, "{hash}", "Argon2id hashes running now (at most PasswordWork:MaxConcurrent)");
        Meter.CreateObservableGauge("sealpost.password.hashes.queued", () => work.Queued, "{hash}", "Requests waiting for a hashing slot");
        Meter.CreateObservableGauge("sealpost.password.hashes.queue_limit", () => options.MaxQueued, "{hash}", "PasswordWork:MaxQueued: beyond it requests get 503 busy at once");
    }
}
