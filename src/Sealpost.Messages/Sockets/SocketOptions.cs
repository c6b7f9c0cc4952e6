using System.ComponentModel.DataAnnotations;

namespace Sealpost.Messages.Sockets;

/// <summary>WebSocket behaviour (section <c>Sockets</c>): origins, keep-alive, frame budgets, the write queue.</summary>
internal sealed class SocketOptions
{
    public const string Section = "Sockets";

/// <summary>Browser origins allowed to open a socket; requests without an Origin header (non-browsers) are always allowed.</summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>Server pings this often, which also keeps HAProxy's tunnel timeout from closing a quiet socket.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A peer that does not answer a ping within this time is dead and its socket is dropped.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Frames other than acks an account (all its devices together) may send per second on one instance, sustained; bursts up to twice that.</summary>
    [Range(1, 1_000_000)]
    public int FramesPerSecond { get; set; } = 200;

    /// <summary>Acks one socket may send per second, sustained (bursts up to twice that); counted apart from other frames.</summary>
    [Range(1, 1_000_000)]
    public int AcksPerSecond { get; set; } = 2000;

    /// <summary>Frames waiting to be written to one socket; a reader slower than this is disconnected.</summary>
    [Range(16, 100_000)]
    public int SendQueueLimit { get; set; } = 512;

    /// <summary>How long one write may wait on a peer that does not read before the socket is dropped.</summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Sends of one socket being stored at once; the socket reads no further frames until one finishes.</summary>
    [Range(1, 1000)]
    public int MaxPendingSends { get; set; } = 64;
}
