using Sealpost.Client.Messaging;
using Sealpost.Crypto;

namespace Sealpost.Client.Tests;

/// <summary>What one message carries is what an envelope v2 carries (a text or a file at the limit seals; one byte more is refused up front).</summary>
public sealed class MessagePayloadLimitTests
{
    private static readonly DeviceSender Alice = new("alice", 1, 1, X25519KeyPair.Generate().PrivateKey.ToArray());
    private static readonly DeviceRecipient Bob = new("bob", 1, 1, X25519KeyPair.Generate().PublicKey.ToArray());

    private static byte[] Seal(byte[] body) => EnvelopeV2.Seal(Alice, Bob, new SealedContent(ContentType.Message, Guid.NewGuid(), DateTimeOffset.UtcNow, null, body));

    [Fact]
    public void A_text_or_a_file_at_the_limit_seals_into_an_envelope_v2_and_one_byte_more_is_message_too_large()
    {
        // The limits came from v1's plaintext (49,092 bytes), 66 more than v2 carries: such a message passed the check
        // and then crashed the seal (the CLI exited 8, "unexpected error").
        Assert.NotEmpty(Seal(MessagePayload.ForText(new string('a', MessagePayload.MaxPayloadSize)).Encode()));
        Assert.NotEmpty(Seal(MessagePayload.ForFile("a.bin", new byte[MessagePayload.MaxFileSize(5)]).Encode()));

        var text = Assert.Throws<SealpostException>(() => MessagePayload.ForText(new string('a', MessagePayload.MaxPayloadSize + 1)).Encode());

        Assert.Equal(ClientErrorCodes.MessageTooLarge, text.Code);
        Assert.Equal(EnvelopeV2.MaxBodySize, MessagePayload.MaxPayloadSize);
    }
}
