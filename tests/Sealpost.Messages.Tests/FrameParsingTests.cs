using System.Text;
using Sealpost.Messages.Frames;
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
    [InlineData("""{"type":"send","envelopes":[{"device":"one","body":"AAAA"}]}""", "\"envelopes\" must be an array of objects with \"device\" (an integer) and \"body\" (a string).")]
    [InlineData("""{"type":"send","copies":"AAAA"}""", "\"copies\" must be an array of objects with \"device\" (an integer) and \"body\" (a string).")]
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
    public void A_send_for_several_devices_yields_each_envelope()
    {
        var (frame, problem) = FrameCodec.Parse("""{"type":"send","id":"x","to":"bob","envelopes":[{"device":1,"body":"AA=="},{"device":3,"body":"AQ=="}],"copies":[{"device":2,"body":"Ag=="}]}"""u8);

        Assert.Null(problem);
        Assert.Equal([(1, "AA=="), (3, "AQ==")], frame!.Envelopes!.Select(e => (e.Device, e.Body)));
        Assert.Equal(2, Assert.Single(frame.Copies!).Device);
    }

    [Theory]
    [InlineData("alice", 1, "alice")]
    [InlineData("alice", 2, "alice/2")]
    [InlineData("bob_9", 17, "bob_9/17")]
    public void A_device_address_is_the_username_for_device_1_and_username_slash_device_otherwise(string username, int device, string address)
    {
        Assert.Equal(address, Sealpost.Messages.Identity.DeviceAddress.Of(username, device));
        Assert.Equal((username, device), Sealpost.Messages.Identity.DeviceAddress.Parse(address));
        Assert.True(Sealpost.Messages.Identity.DeviceAddress.Belongs(address, username));
        Assert.False(Sealpost.Messages.Identity.DeviceAddress.Belongs(address, username + "x"));
        Assert.False(Sealpost.Messages.Identity.DeviceAddress.Belongs(username + "x", username));
        Assert.False(Sealpost.Messages.Identity.DeviceAddress.Belongs(address, username[..^1]));
    }

    [Fact]
    public void A_message_frame_names_the_sending_device_only_when_it_is_not_device_1()
    {
        var first = Encoding.UTF8.GetString(FrameCodec.Message(Guid.NewGuid(), "alice", null, "AAAA", DateTimeOffset.UnixEpoch));
        var second = Encoding.UTF8.GetString(FrameCodec.Message(Guid.NewGuid(), "alice/2", null, "AAAA", DateTimeOffset.UnixEpoch));

        Assert.DoesNotContain("from_device", first, StringComparison.Ordinal);
        Assert.Contains("\"from\":\"alice\"", second, StringComparison.Ordinal);
        Assert.Contains("\"from_device\":2", second, StringComparison.Ordinal);
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
