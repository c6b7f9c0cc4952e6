namespace Sealpost.Client.Storage;

/// <summary><c>$SEALPOST_HOME/config.json</c>: settings shared by every profile.</summary>
public sealed record ClientConfig
{
    public string? Server { get; init; }

    /// <summary>A PEM certificate to trust for the server's https instead of the system's authorities.</summary>
    public string? ServerCertificate { get; init; }
}
