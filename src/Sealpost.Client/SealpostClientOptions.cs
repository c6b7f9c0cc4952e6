using Sealpost.Client.Messaging;
using Sealpost.Client.Storage;

namespace Sealpost.Client;

public sealed record SealpostClientOptions
{
    /// <summary>Base address of the server (HAProxy), e.g. <c>http://127.0.0.1:8080</c>; REST and the socket share it.</summary>
    public required Uri Server { get; init; }

    /// <summary>Where this client's account, keys, contacts and history are kept.</summary>
    public required ProfileFolder Profile { get; init; }

    /// <summary>Asked for the key-file passphrase only when a private key is needed, and at most once.</summary>
    public Func<string>? Passphrase { get; init; }

    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>A PEM certificate the server's must be or chain to, instead of the system's authorities (a server's own certificate).</summary>
    public string? CertificateFile { get; init; }

    public ConnectionOptions? Connection { get; init; }
    public TimeProvider? Time { get; init; }
}
