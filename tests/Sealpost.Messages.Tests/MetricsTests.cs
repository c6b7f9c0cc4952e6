using System.Diagnostics.Metrics;
using Sealpost.Messages.Monitoring;
using Microsoft.Extensions.DependencyInjection;
using Sealpost.Messages.Frames;
using Sealpost.Protocol;

namespace Sealpost.Messages.Tests;

public sealed class MetricsTests
{
    private static readonly MessagesMetrics Metrics = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());

    [Fact]
    public void Frames_sent_are_counted_by_the_type_each_server_frame_starts_with()
    {
        byte[][] frames =
        [
            FrameCodec.Message(Guid.NewGuid(), "alice", Guid.NewGuid(), "AAAA", DateTimeOffset.UtcNow),
            FrameCodec.Accepted("c", Guid.NewGuid(), DateTimeOffset.UtcNow),
            FrameCodec.Error(null, ErrorCodes.BadFrame, "no"),
            FrameCodec.Synced,
            FrameCodec.Authenticated(DateTimeOffset.UtcNow),
        ];

        var seen = Record("sealpost.socket.frames.sent", "type", () =>
        {
            foreach (var frame in frames) Metrics.FrameSent(frame);
        });

        Assert.Equal([FrameTypes.Message, FrameTypes.Accepted, FrameTypes.Error, FrameTypes.Synced, FrameTypes.Authenticated], seen);
    }

    [Fact]
    public void A_client_chosen_frame_type_never_becomes_a_label()
    {
        var seen = Record("sealpost.socket.frames.received", "type", () =>
        {
            Metrics.FrameReceived("send");
            Metrics.FrameReceived("alice-was-here");
            Metrics.FrameReceived(null);
        });

        Assert.Equal(["send", "other", "other"], seen);
    }

    // Only this thread's measurements: other tests in the assembly count frames at the same time.
    private static List<string?> Record(string instrument, string label, Action act)
    {
        var seen = new List<string?>();
        var thread = Environment.CurrentManagedThreadId;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == MessagesMetrics.MeterName && i.Name == instrument) l.EnableMeasurementEvents(i);
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            if (Environment.CurrentManagedThreadId != thread) return;
            foreach (var tag in tags) if (tag.Key == label) seen.Add(tag.Value as string);
        });
        listener.Start();
        act();
        return seen;
    }
}
