namespace Sealpost.Messages.Delivery;

/// <summary>
/// What the relay knows of one sender socket: its write lane (so its messages commit in send order), its queues by
/// recipient device, and where answers go.
/// </summary>
internal sealed class SenderLane(int lane, ISendReplies replies)
{
    private const int IdleQueuesKept = 256;
    private readonly Dictionary<string, RecipientQueue> _queues = new(StringComparer.Ordinal);

    public int Lane { get; } = lane;

    public ISendReplies Replies { get; } = replies;

    public RecipientQueue QueueFor(string recipient)
    {
        lock (_queues)
        {
            if (_queues.TryGetValue(recipient, out var queue)) return queue;
            // A socket that writes to many people keeps only the queues that still have work.
            if (_queues.Count >= IdleQueuesKept)
            {
                foreach (var (name, idle) in _queues.ToList())
                {
                    lock (idle)
                    {
                        if (!idle.Running && Volatile.Read(ref idle.Storing) == 0) _queues.Remove(name);
                    }
                }
            }
            return _queues[recipient] = new RecipientQueue();
        }
    }

    /// <summary>The messages of one sender socket to one recipient device, worked in send order.</summary>
    public sealed class RecipientQueue
    {
        public readonly Queue<HeldMessage> Waiting = new();
        public bool Running;

        /// <summary>Messages of this queue being written; while there are any, later ones are written too, behind them.</summary>
        public int Storing;

        /// <summary>Until when (a timestamp) the recipient counts as online elsewhere without asking the bus again.</summary>
        public long OnlineUntil;

        /// <summary>
        /// The last message of this queue that went to the mailbox, until a later one was acknowledged live (empty: none):
        /// live offers carry it, so a socket that never heard it was stored does not let a later one overtake it.
        /// </summary>
        public Guid LastStored;
    }
}
