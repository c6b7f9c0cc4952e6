using System.ComponentModel.DataAnnotations;

namespace Sealpost.Messages.Delivery;

/// <summary>How messages reach a device (section <c>Sockets</c>, beside <c>SocketOptions</c>, so the settings kept their names): the window, the grace, the patience, the polls.</summary>
internal sealed class DeliveryOptions
{
    public const string Section = "Sockets";

    /// <summary>Messages sent to a socket and not yet acknowledged, at most.</summary>
    [Range(1, 10_000)]
    public int DeliveryWindow { get; set; } = 100;

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

    /// <summary>Sockets one account (all its devices together) may hold on one instance; one more is closed with 4429.</summary>
    [Range(1, 1000)]
    public int MaxSocketsPerUser { get; set; } = 16;

    /// <summary>How often a socket rereads its mailbox while the bus is healthy (a safety net for lost wake-ups).</summary>
    public TimeSpan SafetyPollInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often while the bus (Redis) is away.</summary>
    public TimeSpan DegradedPollInterval { get; set; } = TimeSpan.FromSeconds(2);
}
