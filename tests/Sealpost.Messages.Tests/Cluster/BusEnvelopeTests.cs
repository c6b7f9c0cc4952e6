using Sealpost.Messages.Cluster;

namespace Sealpost.Messages.Tests.Cluster;

public sealed class BusEnvelopeTests
{
    private static readonly Guid From = Guid.NewGuid();

    private static readonly BusMessage[] Messages =
    [
        new LiveOffer(From, Guid.NewGuid(), "{\"type\":\"message\"}"u8.ToArray()),
        new LiveOffer(From, Guid.NewGuid(), "{\"type\":\"message\"}"u8.ToArray(), After: Guid.NewGuid()),
        new StoredNotice(From, Guid.NewGuid()),
        new Answers(From, Answer.Acked, "alice", [Guid.NewGuid()]),
        new Answers(From, Answer.Refused, "bob/3", [.. Enumerable.Range(0, 100).Select(_ => Guid.NewGuid())]),
        new FlushRequest(From, Guid.NewGuid(), "carol/2"),
        new Flushed(From, Guid.NewGuid()),
        new BusReturned(From),
    ];

    [Fact]
    public void Every_bus_message_reads_back_as_it_was_written()
    {
        foreach (var message in Messages) ReadsBack(message);
    }

    private static void ReadsBack(BusMessage message)
    {
        var read = BusEnvelope.Decode(BusEnvelope.Encode(message));

        Assert.NotNull(read);
        Assert.Equal(message.GetType(), read.GetType());
        Assert.Equal(message.From, read.From);
        switch (message, read)
        {
            case (LiveOffer a, LiveOffer b):
                Assert.Equal(a.MessageId, b.MessageId);
                Assert.Equal(a.Frame, b.Frame);
                break;
            case (Answers a, Answers b):
                Assert.Equal((a.Answer, a.Device), (b.Answer, b.Device));
                Assert.Equal(a.MessageIds, b.MessageIds);
                break;
            default:
                Assert.Equal(message, read);
                break;
        }
    }

    [Fact]
    public void Bytes_that_are_no_bus_message_read_as_nothing()
    {
        Assert.Null(BusEnvelope.Decode(null));
        Assert.Null(BusEnvelope.Decode([1, 2, 3]));
        Assert.Null(BusEnvelope.Decode([99, .. new byte[40]]));
        // Answers that claim more ids than they carry.
        var answers = BusEnvelope.Encode(new Answers(From, Answer.Acked, "alice", [Guid.NewGuid(), Guid.NewGuid()]));
        Assert.Null(BusEnvelope.Decode(answers[..(33 + 2 + 16)]));
    }
}
