using Sealpost.Messages.Mailboxes;

namespace Sealpost.Messages.Delivery;

/// <summary>Where a message held by its origin stands.</summary>
internal enum HeldState
{
    /// <summary>Offered live; waiting for an ack within the grace.</summary>
    Held,

    /// <summary>Being written to the mailbox.</summary>
    Storing,

    /// <summary>Acknowledged, or written and announced: answered.</summary>
    Done,
}

/// <summary>A message its origin (the <see cref="Relay"/> of the sender's instance) holds until it is acknowledged or stored.</summary>
internal sealed class HeldMessage(NewMessage message, SenderLane sender)
{
    private int _state = (int)HeldState.Held;

    public NewMessage Message { get; } = message;

    public SenderLane Sender { get; } = sender;

    public string ClientIdText { get; } = message.ClientId.ToString();

    public SenderLane.RecipientQueue? Queue { get; set; }

    public long Deadline { get; set; }

    /// <summary>What its live offer had to come after (<see cref="SenderLane.RecipientQueue.LastStored"/> when it was offered).</summary>
    public Guid After { get; set; }

    public bool AckedWhileStoring { get; set; }

    public HeldState State => (HeldState)Volatile.Read(ref _state);

    /// <summary>Completes once the message is acknowledged, or its write is done and announced.</summary>
    public TaskCompletionSource Resolved { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool TryMove(HeldState from, HeldState to) => Interlocked.CompareExchange(ref _state, (int)to, (int)from) == (int)from;

    public void MarkDone() => Volatile.Write(ref _state, (int)HeldState.Done);
}
