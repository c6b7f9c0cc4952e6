using Sealpost.Client.Messaging;
using Sealpost.Client.Storage;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Tests;

/// <summary>Opening, verifying, storing and deduplicating delivered messages, with no server: keys and pins are arranged locally.</summary>
public sealed class ReceiveTests : IAsyncLifetime
{
    private const string Passphrase = "bob's passphrase";
    private readonly TempHome _home = new();
    private readonly X25519KeyPair _alice = X25519KeyPair.Generate();
    private readonly X25519KeyPair _bob = X25519KeyPair.Generate();
    private SealpostClient _client = null!;
    private MessageConnection _socket = null!;
    private string _passphrase = Passphrase;

    public async Task InitializeAsync()
    {
        var profile = _home.Profile();
        profile.EnsureExists();
        KeyFile.Save(profile.KeyFile(1), "bob", _bob, Passphrase);
        // Nothing listens on port 1: any attempt to reach the server fails as a network error.
        profile.Write(profile.AccountFile, new AccountState { Server = "http://127.0.0.1:1/", Username = "bob", KeyId = 1 }, LocalJsonContext.Default.AccountState);
        _client = new SealpostClient(new SealpostClientOptions { Server = new Uri("http://127.0.0.1:1/"), Profile = profile, Passphrase = () => _passphrase });
        await _client.Contacts.Book.ObserveAsync(Account("alice", 1, _alice), default);
        _socket = new MessageConnection(new Uri("http://127.0.0.1:1/"), (_, _) => throw new InvalidOperationException("not connected in these tests"));
    }

    public async Task DisposeAsync()
    {
        await _socket.DisposeAsync();
        await _client.DisposeAsync();
        _home.Dispose();
    }

    [Fact]
    public async Task A_message_opens_is_stored_and_a_redelivery_is_dropped()
    {
        var frame = Frame("alice", Seal(_alice, 1, "hello bob"));

        var first = await _client.Messages.ProcessAsync(frame, _socket, default);
        var again = await _client.Messages.ProcessAsync(frame, _socket, default);

        Assert.Equal(MessageStatus.Ok, first!.Status);
        Assert.Equal("hello bob", first.Text);
        Assert.Equal("alice", first.Peer);
        Assert.Null(again);
        Assert.Equal(["hello bob"], _client.Messages.History.List().Select(e => e.Text));
    }

    [Fact]
    public async Task A_flipped_byte_is_rejected_stored_with_its_envelope_and_not_retried()
    {
        var envelope = Seal(_alice, 1, "hello bob");
        envelope[^3] ^= 1;
        var frame = Frame("alice", envelope);

        var entry = await _client.Messages.ProcessAsync(frame, _socket, default);

        Assert.Equal(MessageStatus.Rejected, entry!.Status);
        Assert.Null(entry.Text);
        Assert.Equal(frame.Body, entry.Envelope);
        Assert.NotNull(entry.Problem);
        Assert.Null(await _client.Messages.ProcessAsync(frame, _socket, default));
    }

    [Fact]
    public async Task A_message_claiming_a_sender_whose_key_did_not_seal_it_is_rejected()
    {
        var mallory = X25519KeyPair.Generate();

        var entry = await _client.Messages.ProcessAsync(Frame("alice", Seal(mallory, 1, "it's me, alice")), _socket, default);

        Assert.Equal(MessageStatus.Rejected, entry!.Status);
        Assert.Null(entry.Text);
    }

    [Fact]
    public async Task Garbage_and_messages_to_keys_not_held_are_rejected()
    {
        var notBase64 = new MessageFrame(FrameTypes.Message, Guid.NewGuid().ToString(), "alice", null, "!!!", DateTimeOffset.UtcNow);
        var notEnvelope = new MessageFrame(FrameTypes.Message, Guid.NewGuid().ToString(), "alice", null, Convert.ToBase64String(Text.Utf8("hello")), DateTimeOffset.UtcNow);
        var toKey9 = Frame("alice", Envelope.Seal(new EnvelopeParty("alice", 1, _alice.PrivateKey.ToArray()), new EnvelopeRecipient("bob", 9, _bob.PublicKey.ToArray()), Text.Utf8("x")));

        foreach (var frame in new[] { notBase64, notEnvelope, toKey9 })
            Assert.Equal(MessageStatus.Rejected, (await _client.Messages.ProcessAsync(frame, _socket, default))!.Status);
        Assert.Equal(3, _client.Messages.History.List().Count);
    }

    [Fact]
    public async Task A_message_sealed_to_an_older_key_of_ours_still_opens()
    {
        var profile = _home.Profile();
        var newer = X25519KeyPair.Generate();
        KeyFile.Save(profile.KeyFile(2), "bob", newer, Passphrase);
        var account = profile.ReadAccountState()!;
        account.KeyId = 2;
        profile.Write(profile.AccountFile, account, LocalJsonContext.Default.AccountState);

        var entry = await _client.Messages.ProcessAsync(Frame("alice", Seal(_alice, 1, "sealed before you rotated")), _socket, default);

        Assert.Equal("sealed before you rotated", entry!.Text);
    }

    [Fact]
    public async Task A_wrong_passphrase_stops_processing_and_stores_nothing()
    {
        _passphrase = "not it";

        var e = await Assert.ThrowsAsync<SealpostException>(() => _client.Messages.ProcessAsync(Frame("alice", Seal(_alice, 1, "hi")), _socket, default));

        Assert.Equal(ErrorKind.Crypto, e.Kind);
        Assert.Equal(ClientErrorCodes.WrongPassphrase, e.Code);
        Assert.Empty(_client.Messages.History.List());
    }

    [Fact]
    public async Task A_sender_key_that_cannot_be_fetched_now_leaves_the_message_for_later()
    {
        var carol = X25519KeyPair.Generate();

        var e = await Assert.ThrowsAsync<SealpostException>(() => _client.Messages.ProcessAsync(Frame("carol", Seal(carol, 1, "hi")), _socket, default));

        Assert.Equal(ErrorKind.Network, e.Kind);
        Assert.Empty(_client.Messages.History.List());
    }

    [Fact]
    public async Task A_delivery_receipt_is_acknowledged_but_never_kept_or_shown_and_a_malformed_one_is_rejected()
    {
        var receipt = MessagePayload.ForReceipt(["0b0e5f2c-3c1e-4a8e-9a57-2d8b1b0c6f11", "an id"]).Encode();
        Assert.Equal(["0b0e5f2c-3c1e-4a8e-9a57-2d8b1b0c6f11", "an id"], MessagePayload.Decode(receipt, out _)!.DeliveredClientIds);

        Assert.Null(await _client.Messages.ProcessAsync(Frame("alice", Seal(_alice, 1, receipt)), _socket, default));
        Assert.Empty(_client.Messages.History.List());

        var truncated = receipt[..^1];
        var entry = await _client.Messages.ProcessAsync(Frame("alice", Seal(_alice, 1, truncated)), _socket, default);
        Assert.Equal(MessageStatus.Rejected, entry!.Status);
        Assert.Contains("receipt is malformed", entry.Problem, StringComparison.Ordinal);
    }

    private byte[] Seal(X25519KeyPair sender, uint senderKeyId, string text) => Seal(sender, senderKeyId, Text.Utf8(text));

    private byte[] Seal(X25519KeyPair sender, uint senderKeyId, byte[] plaintext) =>
        Envelope.Seal(new EnvelopeParty("alice", senderKeyId, sender.PrivateKey.ToArray()), new EnvelopeRecipient("bob", 1, _bob.PublicKey.ToArray()), plaintext);

    private static MessageFrame Frame(string from, byte[] envelope) =>
        new(FrameTypes.Message, Guid.NewGuid().ToString(), from, Guid.NewGuid().ToString(), Convert.ToBase64String(envelope), DateTimeOffset.UtcNow);

    private static PublicAccount Account(string name, int keyId, X25519KeyPair pair) =>
        new(name, null, AccountRules.EncodePublicKey(pair.PublicKey), keyId, DateTimeOffset.UtcNow, Fingerprint.Of(pair.PublicKey));
}
