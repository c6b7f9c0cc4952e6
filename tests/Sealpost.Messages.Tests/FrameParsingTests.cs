using System.Text;
using Sealpost.Messages.Sockets;

namespace Sealpost.Messages.Tests;

public sealed class FrameParsingTests
{
    [Fact]
    public void A_send_frame_yields_its_fields_and_ignores_unknown_ones()
    {
        var (frame, problem) = FrameCodec.Parse(Encoding.UTF8.GetBytes("""{"type":"send","id":"x","to":"bob","body":"AAAA","future":{"a":[1,2]}}"""));

        Assert.Null(problem);
        Assert.Equal(("send", "x", "bob", "AAAA"), (frame!.Type, frame.Id, frame.To, frame.Body));
    }

    [Fact]
    public void An_ack_frame_carries_one_id_or_many()
    {
        var (one, _) = FrameCodec.Parse("""{"type":"ack","message_id":"a"}"""u8);
        var (many, _) = FrameCodec.Parse("""{"type":"ack","message_ids":["a","b"]}"""u8);

        Assert.Equal("a", one!.MessageId);
        Assert.Equal(["a", "b"], many!.MessageIds!);
    }

    [Theory]
    [InlineData("""{"type":"send","to":5}""", "\"to\" must be a string.")]
    [InlineData("""{"type":"ack","message_ids":"a"}""", "\"message_ids\" must be an array of strings.")]
    public void A_field_of_the_wrong_kind_is_named(string json, string expected)
    {
        Assert.Equal(expected, FrameCodec.Parse(Encoding.UTF8.GetBytes(json)).Problem);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("{\"type\":\"send\"")]
    [InlineData("{\"type\":\"send\"} {}")]
    [InlineData("{\"type\":[\"send\"]}")]
    [InlineData("{\"to\":\"bob\"}")]
    [InlineData("{\"type\":\"send\",\"x\":[[[[[[[[[[[[1]]]]]]]]]]]]}")]
    public void Malformed_frames_say_what_is_wrong(string json)
    {
        var (frame, problem) = FrameCodec.Parse(Encoding.UTF8.GetBytes(json));

        Assert.Null(frame);
        Assert.False(string.IsNullOrWhiteSpace(problem));
    }

    [Fact]
    public void Message_ids_only_go_up_even_within_one_millisecond()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => Sealpost.Messages.Mailboxes.MessageIds.Next(TimeProvider.System)).ToList();

        Assert.Equal(ids.Order().ToList(), ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Equal(7, id.Version));
    }

    [Fact]
    public void A_token_bucket_allows_a_burst_then_refuses()
    {
        var bucket = new TokenBucket(rate: 10, burst: 20, TimeProvider.System);

        var allowed = Enumerable.Range(0, 100).Count(_ => bucket.TryTake());

        Assert.InRange(allowed, 20, 22);
    }
}
