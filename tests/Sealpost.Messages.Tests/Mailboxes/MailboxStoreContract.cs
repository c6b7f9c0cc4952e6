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
    private protected abstract Task<IMailboxStore> CreateStoreAsync(int quota = 100, TimeSpan? lifetime = null, int quotaPerSender = 100, int storedPerSenderPerDay = 1000);

    private protected static NewMessage Message(string from, string to, Guid? clientId = null, byte[]? body = null) =>
        new(MessageIds.Next(Clock), from, clientId ?? Guid.NewGuid(), to, Convert.ToBase64String(body ?? [1, 2, 3]), Microseconds(Clock.GetUtcNow()));

    private static DateTimeOffset Microseconds(DateTimeOffset t) => t.AddTicks(-(t.UtcTicks % 10));

    private static async Task<AcceptResult> StoreOneAsync(IMailboxStore store, NewMessage message) =>
        (await store.StoreAsync([message], CancellationToken.None))[0];

    [Fact]
    public async Task Stored_messages_wait_oldest_first_with_their_sender_client_id_time_and_body()
    {
        var store = await CreateStoreAsync();
        var first = Message("alice", "bob", body: [1]);
        var second = Message("carol", "bob", body: [2]);
        var results = await store.StoreAsync([first, second], CancellationToken.None);

        var pending = await store.PendingAsync("bob", [], 10, CancellationToken.None);

        Assert.Equal([AcceptStatus.Stored, AcceptStatus.Stored], results.Select(r => r.Status));
        Assert.Equal([first.Id, second.Id], pending.Select(m => m.Id));
        Assert.Equal(["alice", "carol"], pending.Select(m => m.Sender));
        Assert.Equal([first.ClientId, second.ClientId], pending.Select(m => m.ClientId));
        Assert.Equal(first.SentAt.ToUnixTimeMilliseconds(), pending[0].SentAt.ToUnixTimeMilliseconds());
        Assert.Equal([1], pending[0].Body);
        Assert.Empty(await store.PendingAsync("alice", [], 10, CancellationToken.None));
    }

    [Fact]
    public async Task A_resend_of_a_waiting_message_takes_its_place_and_stores_nothing_twice()
    {
        var store = await CreateStoreAsync();
        var clientId = Guid.NewGuid();
        var first = Message("alice", "bob", clientId);
        await StoreOneAsync(store, first);
        var resend = Message("alice", "bob", clientId);
        var again = await StoreOneAsync(store, resend);
        var otherSender = await StoreOneAsync(store, Message("carol", "bob", clientId));

        Assert.Equal((AcceptStatus.Stored, resend.Id, resend.SentAt), (again.Status, again.MessageId, again.SentAt));
        Assert.Equal(AcceptStatus.Stored, otherSender.Status);
        Assert.Equal([resend.Id, otherSender.MessageId], (await store.PendingAsync("bob", [], 10, CancellationToken.None)).Select(m => m.Id));
        // The first copy's write landing late (its instance was slow, or died mid-commit) finds the resend and changes nothing.
        var late = await StoreOneAsync(store, first);
        Assert.Equal((AcceptStatus.Duplicate, resend.Id), (late.Status, late.MessageId));
        Assert.Equal([resend.Id, otherSender.MessageId], (await store.PendingAsync("bob", [], 10, CancellationToken.None)).Select(m => m.Id));
    }

    /// <summary>
    /// The order a sender's messages wait in survives a resend after a lost connection, whichever of their first copies
    /// were stored: the first copy of the second message landed, that of the first did not.
    /// </summary>
    [Fact]
    public async Task Resent_messages_wait_in_the_order_they_were_resent_whichever_first_copies_landed()
    {
        var store = await CreateStoreAsync();
        var (one, two) = (Guid.NewGuid(), Guid.NewGuid());
        var firstCopies = new[] { Message("alice", "bob", one), Message("alice", "bob", two) };
        await StoreOneAsync(store, firstCopies[1]);

        var resends = new[] { Message("alice", "bob", one), Message("alice", "bob", two) };
        var results = await store.StoreAsync(resends, CancellationToken.None);
        var late = await StoreOneAsync(store, firstCopies[0]);

        Assert.Equal(resends.Select(r => (AcceptStatus.Stored, r.Id)), results.Select(r => (r.Status, r.MessageId)));
        Assert.Equal((AcceptStatus.Duplicate, resends[0].Id), (late.Status, late.MessageId));
        Assert.Equal([one, two], (await store.PendingAsync("bob", [], 10, CancellationToken.None)).Select(m => m.ClientId!.Value));
    }

    [Fact]
    public async Task One_client_id_twice_in_one_batch_is_stored_once()
    {
        var store = await CreateStoreAsync();
        var clientId = Guid.NewGuid();

        var results = await store.StoreAsync([.. Enumerable.Range(0, 5).Select(_ => Message("alice", "bob", clientId))], CancellationToken.None);

        Assert.Single(results.Select(r => r.MessageId).Distinct());
        Assert.Single(results, r => r.Status == AcceptStatus.Stored);
        Assert.Single(await store.PendingAsync("bob", [], 10, CancellationToken.None));
    }

    [Fact]
    public async Task The_same_message_stored_twice_is_one_row()
    {
        var store = await CreateStoreAsync();
        var message = Message("alice", "bob");

        await StoreOneAsync(store, message);
        var again = await StoreOneAsync(store, message);

        Assert.Equal((AcceptStatus.Duplicate, message.Id), (again.Status, again.MessageId));
        Assert.Single(await store.PendingAsync("bob", [], 10, CancellationToken.None));
    }

    [Fact]
    public async Task A_delete_removes_only_the_recipients_own_message()
    {
        var store = await CreateStoreAsync();
        var message = Message("alice", "bob");
        await StoreOneAsync(store, message);

        await store.DeleteAsync([("mallory", message.Id), ("bob", Guid.NewGuid())], CancellationToken.None);
        Assert.Single(await store.PendingAsync("bob", [], 10, CancellationToken.None));
        await store.DeleteAsync([("bob", message.Id), ("bob", message.Id)], CancellationToken.None);
        Assert.Empty(await store.PendingAsync("bob", [], 10, CancellationToken.None));
    }

    [Fact]
    public async Task One_delete_spans_mailboxes_and_leaves_another_devices_copy_of_the_same_message()
    {
        var store = await CreateStoreAsync();
        var toBob = Message("alice", "bob");
        var toBobsLaptop = toBob with { Recipient = "bob/2" };
        var toCarol = Message("alice", "carol");
        await store.StoreAsync([toBob, toBobsLaptop, toCarol], CancellationToken.None);

        await store.DeleteAsync([("bob", toBob.Id), ("carol", toCarol.Id), ("carol", Guid.NewGuid())], CancellationToken.None);

        Assert.Empty(await store.PendingAsync("bob", [], 10, CancellationToken.None));
        Assert.Empty(await store.PendingAsync("carol", [], 10, CancellationToken.None));
        Assert.Equal([toBob.Id], (await store.PendingAsync("bob/2", [], 10, CancellationToken.None)).Select(m => m.Id));
    }

    [Fact]
    public async Task Pending_leaves_out_what_is_in_flight_and_respects_the_limit()
    {
        var store = await CreateStoreAsync();
        var messages = Enumerable.Range(0, 5).Select(_ => Message("alice", "bob")).ToList();
        await store.StoreAsync(messages, CancellationToken.None);
        var ids = messages.Select(m => m.Id).ToList();

        var page = await store.PendingAsync("bob", [ids[0], ids[2]], 2, CancellationToken.None);

        Assert.Equal([ids[1], ids[3]], page.Select(m => m.Id));
        Assert.Equal([ids[1], ids[4]], (await store.StillPendingAsync("bob", [ids[1], ids[4], Guid.NewGuid()], CancellationToken.None)).Order());
    }

    [Fact]
    public async Task A_full_mailbox_refuses_and_other_mailboxes_do_not_care()
    {
        var store = await CreateStoreAsync(quota: 2);
        await store.StoreAsync([Message("alice", "bob"), Message("alice", "bob")], CancellationToken.None);

        var results = await store.StoreAsync([Message("alice", "bob"), Message("alice", "carol")], CancellationToken.None);

        Assert.Equal([AcceptStatus.MailboxFull, AcceptStatus.Stored], results.Select(r => r.Status));
    }

    [Fact]
    public async Task One_sender_fills_only_its_share_of_a_mailbox_and_other_senders_still_get_in()
    {
        var store = await CreateStoreAsync(quota: 10, quotaPerSender: 2);
        var waiting = Message("alice", "bob");
        await store.StoreAsync([waiting, Message("alice", "bob")], CancellationToken.None);

        var results = await store.StoreAsync([Message("alice", "bob"), Message("carol", "bob"), Message("alice", "dave"), waiting], CancellationToken.None);

        Assert.Equal([AcceptStatus.SenderShareFull, AcceptStatus.Stored, AcceptStatus.Stored, AcceptStatus.Duplicate], results.Select(r => r.Status));
        Assert.Equal(3, (await store.PendingAsync("bob", [], 10, CancellationToken.None)).Count);
        // Within one batch too: the share counts what the batch itself brings.
        var batch = await store.StoreAsync([Message("erin", "frank"), Message("erin", "frank"), Message("erin", "frank")], CancellationToken.None);
        Assert.Equal([AcceptStatus.Stored, AcceptStatus.Stored, AcceptStatus.SenderShareFull], batch.Select(r => r.Status));
    }

    [Fact]
    public async Task A_sender_may_have_only_so_many_messages_stored_a_day_and_reading_them_gives_none_back()
    {
        var store = await CreateStoreAsync(storedPerSenderPerDay: 3);
        var first = Message("alice", "bob");
        Assert.Equal([AcceptStatus.Stored, AcceptStatus.Stored], (await store.StoreAsync([first, Message("alice", "carol")], CancellationToken.None)).Select(r => r.Status));
        await store.DeleteAsync([("bob", first.Id)], CancellationToken.None);

        var results = await store.StoreAsync([Message("alice", "dave"), Message("alice", "erin"), Message("mallory", "erin")], CancellationToken.None);

        Assert.Equal([AcceptStatus.Stored, AcceptStatus.SenderDailyLimit, AcceptStatus.Stored], results.Select(r => r.Status));
        Assert.Equal(AcceptStatus.SenderDailyLimit, (await StoreOneAsync(store, Message("alice", "frank"))).Status);
        // A resend of what waits is still answered with its first copy.
        var waiting = (await store.PendingAsync("carol", [], 10, CancellationToken.None)).Single();
        Assert.Equal(AcceptStatus.Duplicate, (await StoreOneAsync(store, Message("alice", "carol", waiting.ClientId))).Status);
    }

    /// <summary>A sender is a device ('alice', 'alice/2'); the share and the day are its account's (security review M2).</summary>
    [Fact]
    public async Task The_devices_of_one_sender_account_share_its_share_of_a_mailbox_and_its_day()
    {
        var store = await CreateStoreAsync(quota: 10, quotaPerSender: 2, storedPerSenderPerDay: 4);
        await store.StoreAsync([Message("alice", "bob"), Message("alice/2", "bob")], CancellationToken.None);

        // An account whose name starts alike ('alice2', 'alice_') is another sender.
        var results = await store.StoreAsync([Message("alice/3", "bob"), Message("alice2", "bob"), Message("alice_", "bob")], CancellationToken.None);

        Assert.Equal([AcceptStatus.SenderShareFull, AcceptStatus.Stored, AcceptStatus.Stored], results.Select(r => r.Status));
        var day = await store.StoreAsync([Message("alice/2", "carol"), Message("alice/3", "dave"), Message("alice", "erin")], CancellationToken.None);
        Assert.Equal([AcceptStatus.Stored, AcceptStatus.Stored, AcceptStatus.SenderDailyLimit], day.Select(r => r.Status));
    }

    [Fact]
    public async Task Expired_messages_are_not_pending_and_are_swept_away()
    {
        var store = await CreateStoreAsync(lifetime: TimeSpan.FromMilliseconds(500));
        await StoreOneAsync(store, Message("alice", "bob"));

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
        await StoreOneAsync(store, Message("o'neil", "bob'); DROP TABLE messages; --", body: body));

        var pending = Assert.Single(await store.PendingAsync("bob'); DROP TABLE messages; --", [], 10, CancellationToken.None));

        Assert.Equal("o'neil", pending.Sender);
        Assert.Equal(body, pending.Body);
    }
}
