namespace Sealpost.Testing;

/// <summary>
/// How a <see cref="ProtocolClient"/> connects and who reads its frames. The defaults are a test's: the client reads
/// every frame into an inbox for <c>NextAsync</c> and friends. <see cref="Lean"/> is the load generator's.
/// </summary>
public sealed record ProtocolClientOptions
{
    public static ProtocolClientOptions Default { get; } = new();

    /// <summary>
    /// True: a background reader keeps every frame for the test to wait on. False: the caller reads with
    /// <see cref="ProtocolClient.ReceiveLoopAsync"/>, which keeps nothing.
    /// </summary>
    public bool Inbox { get; init; } = true;

    /// <summary>The handler that opens the connection; null for one of the socket's own.</summary>
    public HttpMessageInvoker? Invoker { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the client pings; null for <see cref="System.Net.WebSockets.ClientWebSocket"/>'s default.</summary>
    public TimeSpan? KeepAliveInterval { get; init; }

    /// <summary>
    /// For hundreds of sockets sharing the cores with the system they load: opened through one shared handler
    /// (<see cref="ProtocolClient.CreateInvoker"/>), read by the caller's loop, and no client pings (the server pings;
    /// a client ping as well would only add frames).
    /// </summary>
    public static ProtocolClientOptions Lean(HttpMessageInvoker invoker) => new()
    {
        Inbox = false,
        Invoker = invoker,
        ConnectTimeout = TimeSpan.FromSeconds(30),
        KeepAliveInterval = TimeSpan.Zero,
    };
}
