namespace Sealpost.Messages.Cluster;

/// <summary>What one instance tells another; <see cref="From"/> is the instance that published it.</summary>
internal abstract record BusMessage(Guid From);

/// <summary>
/// To a device: a live message its origin holds until a socket of the device acknowledges it, or until it is stored.
/// <paramref name="After"/>: the last message of the same sender socket to the device that went to the mailbox (none:
/// <see cref="Guid.Empty"/>); a socket that has not had it must not take this one live, or it would overtake it.
/// </summary>
internal sealed record LiveOffer(Guid From, Guid MessageId, byte[] Frame, Guid After = default) : BusMessage(From);

/// <summary>To a device: a message for it was committed to its mailbox.</summary>
internal sealed record StoredNotice(Guid From, Guid MessageId) : BusMessage(From);

/// <summary>What one instance tells the origin of live messages about them.</summary>
internal enum Answer : byte
{
    /// <summary>A recipient device acknowledged it: the origin need not store it.</summary>
    Acked = 3,

    /// <summary>A recipient socket could not take it live: the origin must store it now.</summary>
    Refused = 4,
}

/// <summary>To an origin: what became of live messages of <paramref name="Device"/> it holds (one bus message for several).</summary>
internal sealed record Answers(Guid From, Answer Answer, string Device, IReadOnlyList<Guid> MessageIds) : BusMessage(From);

/// <summary>To all: store at once what you hold for <paramref name="Device"/>, then answer <see cref="Flushed"/>.</summary>
internal sealed record FlushRequest(Guid From, Guid RequestId, string Device) : BusMessage(From);

/// <summary>To the instance that asked for a flush: what this one held is committed.</summary>
internal sealed record Flushed(Guid From, Guid RequestId) : BusMessage(From);

/// <summary>To all: this instance is connected to the bus again; what it published meanwhile was lost.</summary>
internal sealed record BusReturned(Guid From) : BusMessage(From);
