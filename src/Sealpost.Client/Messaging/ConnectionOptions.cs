namespace Sealpost.Client.Messaging;

/// <summary>Tuning of the message socket; the defaults suit people, tests shorten them.</summary>
public sealed record ConnectionOptions
{
    /// <summary>Attempts at the first connection before it fails; reconnects after that never give up.</summary>
    public int InitialAttempts { get; init; } = 3;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The first wait between reconnects; each failure doubles it, with jitter, up to <see cref="BackoffCap"/>.</summary>
    public TimeSpan BackoffBase { get; init; } = Backoff.Base;

    public TimeSpan BackoffCap { get; init; } = Backoff.Cap;

    /// <summary>How often a send refused with <c>rate_limited</c> or <c>internal</c> is tried again.</summary>
    public int SendRetries { get; init; } = 5;

    /// <summary>Checks the server's TLS certificate instead of the system's authorities (set from <see cref="SealpostClientOptions.CertificateFile"/>).</summary>
    internal System.Net.Security.RemoteCertificateValidationCallback? CertificateCheck { get; init; }
}
