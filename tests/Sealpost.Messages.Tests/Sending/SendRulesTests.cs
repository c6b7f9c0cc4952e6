using Sealpost.Messages.Sending;
using Sealpost.Protocol;

namespace Sealpost.Messages.Tests.Sending;

/// <summary>The shape of a send, checked before anyone is asked anything (no socket, no users service).</summary>
public sealed class SendRulesTests
{
    private static readonly string Id = Guid.NewGuid().ToString();

    [Fact]
    public void A_well_formed_send_goes_on_with_the_recipients_name_normalized()
    {
        Assert.Equal(("bob", (SendRefusal?)null), SendRules.Check(new ClientFrame(FrameTypes.Send, Id, "Bob", "AAAA")));
        var envelopes = new ClientFrame(FrameTypes.Send, Id, "bob", Envelopes: [new(1, "AAAA"), new(2, "BBBB")], Copies: [new(2, "CCCC")]);
        Assert.Equal("bob", SendRules.Check(envelopes).To);
    }

    public static TheoryData<ClientFrame, string> Refused() => new()
    {
        { new ClientFrame(FrameTypes.Send, "not-a-uuid", "bob", "AAAA"), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, null, "AAAA"), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, "bob"), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, "bob", "AAAA", Envelopes: [new(1, "AAAA")]), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, "bob", "AAAA", Copies: [new(2, "AAAA")]), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, "bob", "not base64!"), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, "bob", ""), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, "bob", new string('A', Limits.BodyMaxBase64Chars + 4)), ErrorCodes.TooLarge },
        { new ClientFrame(FrameTypes.Send, Id, "bob", Envelopes: []), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, "bob", Envelopes: [new(1, "AAAA"), new(1, "BBBB")]), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, "bob", Envelopes: [new(0, "AAAA")]), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, "bob", Envelopes: [.. Enumerable.Range(1, Limits.DevicesMax + 1).Select(d => new DeviceEnvelope(d, "AAAA"))]), ErrorCodes.BadFrame },
        { new ClientFrame(FrameTypes.Send, Id, "no such name!", "AAAA"), ErrorCodes.UnknownRecipient },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void A_malformed_send_is_refused_with_its_code_and_no_recipient(ClientFrame frame, string code)
    {
        var (to, refusal) = SendRules.Check(frame);

        Assert.Null(to);
        Assert.Equal(code, refusal?.Code);
        Assert.False(string.IsNullOrWhiteSpace(refusal?.Text));
    }
}
