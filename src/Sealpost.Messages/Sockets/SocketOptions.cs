using System.ComponentModel.DataAnnotations;

namespace Sealpost.Messages.Sockets;

/// <summary>WebSocket behaviour (section <c>Sockets</c>).</summary>
public sealed class SocketOptions
{
    public const string Section = "Sockets";

    /// <summary>Browser origins allowed to open a socket; requests without an Origin header (non-browsers) are always allowed.</summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>Messages sent to a socket and not yet acknowledged, at most.</summary>
    [Range(1, 10_000)]
    public int DeliveryWindow { get; set; } = 100;

    /// <summary>Server pings this often, which also keeps HAProxy's tunnel timeout from closing a quiet socket.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A peer that does not answer a ping within this time is dead and its socket is dropped.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Frames other than acks a user may send per second on one instance, sustained; bursts up to twice that.</summary>
    [Range(1, 1_000_000)]
    public int FramesPerSecond { get; set; } = 200;

    /// <summary>Acks one socket may send per second, sustained (bursts up to twice that); counted apart from other frames.</summary>
    [Range(1, 1_000_000)]
    public int AcksPerSecond { get; set; } = 2000;

    /// <summary>How long a message pushed live waits for the recipient's ack before it is written to the mailbox.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan AckGrace { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long a socket waits on other instances before going on without them: to hear that a live message it refused
    /// was stored, and, when it opens, for every instance to store what it held for the user. An instance that does not
    /// answer in time died, and what it held was never accepted.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan RefusalPatience { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Sockets one user may hold on one instance; one more is closed with 4429.</summary>
    [Range(1, 1000)]
    public int MaxSocketsPerUser { get; set; } = 16;

    /// <summary>Frames waiting to be written to one socket; a reader slower than this is disconnected.</summary>
    [Range(16, 100_000)]
    public int SendQueueLimit { get; set; } = 512;

    /// <summary>How long one write may wait on a peer that does not read before the socket is dropped.</summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How often a socket rereads its mailbox while the bus is healthy (a safety net for lost wake-ups).</summary>
    public TimeSpan SafetyPollInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often while the bus (Redis) is away.</summary>
    public TimeSpan DegradedPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Sends of one socket being stored at once; the socket reads no further frames until one finishes.</summary>
    [Range(1, 1000)]
    public int MaxPendingSends { get; set; } = 64;
}
