using Sealpost.Messages.Mailboxes;

namespace Sealpost.Messages.Tests.Mailboxes;

/// <summary>
/// What every <see cref="IMailboxStore"/> must do, whatever holds the mailboxes. A new store (MongoDB, say) derives
/// from this class and passes the same tests against a real server.
/// </summary>
public abstract class MailboxStoreContract
{
    protected static readonly TimeProvider Clock = TimeProvider.System;

    /// <summary>A store on a fresh, empty database, with the given quota and message lifetime.</summary>
    protected abstract Task<IMailboxStore> CreateStoreAsync(int quota = 100, TimeSpan? lifetime = null);

    private static NewMessage Message(string from, string to, Guid? clientId = null, byte[]? body = null) =>
        new(MessageIds.Next(Clock), from, clientId ?? Guid.NewGuid(), to, body ?? [1, 2, 3]);

    [Fact]
    public async Task Accepted_messages_wait_oldest_first_with_their_sender_and_body()
    {
        var store = await CreateStoreAsync();
        var first = await store.AcceptAsync(Message("alice", "bob", body: [1]), CancellationToken.None);
        var second = await store.AcceptAsync(Message("carol", "bob", body: [2]), CancellationToken.None);

        var pending = await store.PendingAsync("bob", [], 10, CancellationToken.None);

        Assert.Equal([AcceptStatus.Stored, AcceptStatus.Stored], new[] { first.Status, second.Status });
        Assert.Equal([first.MessageId, second.MessageId], pending.Select(m => m.Id));
        Assert.Equal(["alice", "carol"], pending.Select(m => m.Sender));
        Assert.Equal([1], pending[0].Body);
        Assert.Empty(await store.PendingAsync("alice", [], 10, CancellationToken.None));
    }

    [Fact]
    public async Task The_same_client_id_from_the_same_sender_is_stored_once_even_after_the_ack()
    {
        var store = await CreateStoreAsync();
        var clientId = Guid.NewGuid();
        var first = await store.AcceptAsync(Message("alice", "bob", clientId), CancellationToken.None);
        var again = await store.AcceptAsync(Message("alice", "bob", clientId), CancellationToken.None);
        var otherSender = await store.AcceptAsync(Message("carol", "bob", clientId), CancellationToken.None);

        Assert.Equal((AcceptStatus.Duplicate, first.MessageId), (again.Status, again.MessageId));
        Assert.Equal(AcceptStatus.Stored, otherSender.Status);
        Assert.True(await store.AckAsync("bob", first.MessageId, CancellationToken.None));
        var late = await store.AcceptAsync(Message("alice", "bob", clientId), CancellationToken.None);
        Assert.Equal((AcceptStatus.Duplicate, first.MessageId), (late.Status, late.MessageId));
        Assert.Equal([otherSender.MessageId], (await store.PendingAsync("bob", [], 10, CancellationToken.None)).Select(m => m.Id));
    }

    [Fact]
    public async Task Concurrent_sends_of_one_client_id_make_one_message()
    {
        var store = await CreateStoreAsync();
        var clientId = Guid.NewGuid();

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => store.AcceptAsync(Message("alice", "bob", clientId), CancellationToken.None)));

        Assert.Single(results.Select(r => r.MessageId).Distinct());
        Assert.Single(results, r => r.Status == AcceptStatus.Stored);
        Assert.Single(await store.PendingAsync("bob", [], 10, CancellationToken.None));
    }

    [Fact]
    public async Task An_ack_deletes_only_the_recipients_own_message()
    {
        var store = await CreateStoreAsync();
        var message = await store.AcceptAsync(Message("alice", "bob"), CancellationToken.None);

        Assert.False(await store.AckAsync("mallory", message.MessageId, CancellationToken.None));
        Assert.False(await store.AckAsync("bob", Guid.NewGuid(), CancellationToken.None));
        Assert.Single(await store.PendingAsync("bob", [], 10, CancellationToken.None));
        Assert.True(await store.AckAsync("bob", message.MessageId, CancellationToken.None));
        Assert.False(await store.AckAsync("bob", message.MessageId, CancellationToken.None));
        Assert.Empty(await store.PendingAsync("bob", [], 10, CancellationToken.None));
    }

    [Fact]
    public async Task Pending_leaves_out_what_is_in_flight_and_respects_the_limit()
    {
        var store = await CreateStoreAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++) ids.Add((await store.AcceptAsync(Message("alice", "bob"), CancellationToken.None)).MessageId);

        var page = await store.PendingAsync("bob", [ids[0], ids[2]], 2, CancellationToken.None);

        Assert.Equal([ids[1], ids[3]], page.Select(m => m.Id));
        Assert.Equal([ids[1], ids[4]], (await store.StillPendingAsync("bob", [ids[1], ids[4], Guid.NewGuid()], CancellationToken.None)).Order());
    }

    [Fact]
    public async Task A_full_mailbox_refuses_and_other_mailboxes_do_not_care()
    {
        var store = await CreateStoreAsync(quota: 2);
        await store.AcceptAsync(Message("alice", "bob"), CancellationToken.None);
        await store.AcceptAsync(Message("alice", "bob"), CancellationToken.None);

        Assert.Equal(AcceptStatus.MailboxFull, (await store.AcceptAsync(Message("alice", "bob"), CancellationToken.None)).Status);
        Assert.Equal(AcceptStatus.Stored, (await store.AcceptAsync(Message("alice", "carol"), CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Expired_messages_are_not_pending_and_are_swept_away()
    {
        var store = await CreateStoreAsync(lifetime: TimeSpan.FromMilliseconds(500));
        await store.AcceptAsync(Message("alice", "bob"), CancellationToken.None);

        await Task.Delay(TimeSpan.FromSeconds(1));

        Assert.Empty(await store.PendingAsync("bob", [], 10, CancellationToken.None));
        Assert.Equal(1, await store.SweepAsync(CancellationToken.None));
        Assert.Equal(0, await store.SweepAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Odd_names_and_bodies_are_stored_as_they_are()
    {
        var store = await CreateStoreAsync();
        var body = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        await store.AcceptAsync(Message("o'neil", "bob'); DROP TABLE messages; --", body: body), CancellationToken.None);

        var pending = Assert.Single(await store.PendingAsync("bob'); DROP TABLE messages; --", [], 10, CancellationToken.None));

        Assert.Equal("o'neil", pending.Sender);
        Assert.Equal(body, pending.Body);
    }
}
