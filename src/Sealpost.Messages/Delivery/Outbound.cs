using Sealpost.Messages.Mailboxes;

namespace Sealpost.Messages.Delivery;

/// <summary>
/// What the relay knows of one sender socket: its write lane (so its messages commit in send order), its queues by
/// recipient, and where answers go.
/// </summary>
public sealed class Outbound(int lane, Action<NewMessage, byte[], bool> answer)
{
    private const int IdleQueuesKept = 256;
    private readonly Dictionary<string, Relay.RecipientQueue> _queues = new(StringComparer.Ordinal);

    public int Lane { get; } = lane;

    /// <summary>Delivers the answer for one message: <c>accepted</c> (<paramref name="accepted"/> true) or <c>error</c>.</summary>
    public void Answer(NewMessage message, byte[] frame, bool accepted) => answer(message, frame, accepted);

    public Relay.RecipientQueue QueueFor(string recipient)
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
            return _queues[recipient] = new Relay.RecipientQueue();
        }
    }
}
