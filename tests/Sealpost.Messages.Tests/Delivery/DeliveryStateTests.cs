using Sealpost.Messages.Delivery;
using Sealpost.Messages.Mailboxes;

namespace Sealpost.Messages.Tests.Delivery;

/// <summary>The socket's delivery state machine on its own: no socket, no store, no clock.</summary>
public sealed class DeliveryStateTests
{
    private static readonly Guid Origin = Guid.NewGuid();
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(1);

    private static StoredMessage Stored(Guid id) => new(id, "alice", Guid.NewGuid(), [1], DateTimeOffset.UnixEpoch);

    private static DeliveryState CaughtUp(int window = 4)
    {
        var state = new DeliveryState(window, Patience);
        var read = state.BeginRead(0)!;
        state.EndRead([], read.Limit);
        return state;
    }

    [Fact]
    public void A_new_socket_reads_its_mailbox_first_and_refuses_live_messages_until_it_has()
    {
        var state = new DeliveryState(4, Patience);

        var read = state.BeginRead(0);
        Assert.NotNull(read);
        Assert.Equal(OfferDecision.Refuse, state.OnOffer(Guid.NewGuid(), Origin, 0));

        var outcome = state.EndRead([], read.Limit);
        Assert.True(outcome.Synced);
        Assert.False(state.IsLive);   // it still waits to hear that the refused message was stored
    }

    [Fact]
    public void A_caught_up_socket_pushes_live_messages_until_its_window_is_full()
    {
        var state = CaughtUp(window: 2);

        Assert.Equal(OfferDecision.Push, state.OnOffer(Guid.NewGuid(), Origin, 0));
        Assert.Equal(OfferDecision.Push, state.OnOffer(Guid.NewGuid(), Origin, 0));
        Assert.Equal(OfferDecision.Refuse, state.OnOffer(Guid.NewGuid(), Origin, 0));
    }

    [Fact]
    public void A_live_socket_refuses_a_message_that_must_follow_a_stored_one_it_never_had_and_pushes_it_once_it_had_it()
    {
        // The cluster tier saw it: a Redis connection died, the stored-notices of 14 messages were lost on the way, and
        // the next message, offered live, overtook them all. An offer names the last one that went to the mailbox.
        var state = CaughtUp();
        var stored = Guid.NewGuid();
        Assert.Equal(OfferDecision.Refuse, state.OnOffer(Guid.NewGuid(), Origin, 0, after: stored));

        var fresh = CaughtUp();
        var read = fresh.BeginRead(0);
        Assert.Null(read);   // caught up: no read pending
        fresh.OnWake();
        read = fresh.BeginRead(0)!;
        Assert.Equal([stored], fresh.EndRead([Stored(stored)], read.Limit).Push.Select(m => m.Id));
        Assert.Equal(OfferDecision.Push, fresh.OnOffer(Guid.NewGuid(), Origin, 0, after: stored));   // in flight: behind it
        Assert.Equal(DeliveryState.FromStore, fresh.OnAck(stored));
        Assert.Equal(OfferDecision.Push, fresh.OnOffer(Guid.NewGuid(), Origin, 0, after: stored));   // acknowledged already
    }

    [Fact]
    public void After_a_refusal_nothing_newer_goes_live_before_the_refused_one_is_read_from_the_mailbox()
    {
        var state = CaughtUp(window: 1);
        var first = Guid.NewGuid();
        var refused = Guid.NewGuid();
        var newer = Guid.NewGuid();
        Assert.Equal(OfferDecision.Push, state.OnOffer(first, Origin, 0));
        Assert.Equal(OfferDecision.Refuse, state.OnOffer(refused, Origin, 0));
        Assert.Equal(Origin, state.OnAck(first));

        Assert.Equal(OfferDecision.Refuse, state.OnOffer(newer, Origin, 0));
        Assert.Null(state.BeginRead(0));     // the refused ones are not stored yet: a read now could miss them

        state.OnStored(refused);
        Assert.Null(state.BeginRead(0));     // and still the newer one
        state.OnStored(newer);
        var read = state.BeginRead(0)!;
        Assert.Equal(1, read.Limit);         // a window of one: the store answers with the oldest
        Assert.Equal([refused], state.EndRead([Stored(refused)], read.Limit).Push.Select(m => m.Id));
        Assert.Equal(DeliveryState.FromStore, state.OnAck(refused));
        read = state.BeginRead(0)!;
        Assert.Equal([newer], state.EndRead([Stored(newer)], read.Limit).Push.Select(m => m.Id));
    }

    [Fact]
    public void A_message_stored_for_a_caught_up_socket_makes_it_read_before_anything_newer_goes_live()
    {
        var state = CaughtUp();
        var stored = Guid.NewGuid();

        state.OnStored(stored);

        Assert.Equal(OfferDecision.Refuse, state.OnOffer(Guid.NewGuid(), Origin, 0));
        Assert.False(state.IsLive);
    }

    [Fact]
    public void A_live_message_offered_during_a_mailbox_read_is_refused()
    {
        var state = CaughtUp();
        state.OnWake();

        Assert.NotNull(state.BeginRead(0));
        Assert.Equal(OfferDecision.Refuse, state.OnOffer(Guid.NewGuid(), Origin, 0));
    }

    [Fact]
    public void Refusals_whose_origin_died_are_given_up_and_those_of_a_slow_origin_are_not()
    {
        var state = CaughtUp();
        var slow = Guid.NewGuid();
        state.OnStored(Guid.NewGuid());
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        Assert.Equal(OfferDecision.Refuse, state.OnOffer(first, Origin, 0));
        Assert.Equal(OfferDecision.Refuse, state.OnOffer(second, slow, 500));

        Assert.Empty(state.Overdue(999));
        var overdue = Assert.Single(state.Overdue(1000));
        Assert.Equal(Origin, overdue.Key);
        Assert.Equal([first], overdue);
        state.GiveUpOn(Origin);
        Assert.Null(state.BeginRead(1000));          // the slow origin's refusal still stands
        Assert.Equal([slow], state.Overdue(1500).Select(g => g.Key));
        state.GiveUpOn(slow);
        Assert.NotNull(state.BeginRead(1500));
    }

    [Fact]
    public void A_message_is_never_sent_twice_on_one_connection_even_when_the_mailbox_still_holds_it()
    {
        var state = CaughtUp();
        var id = Guid.NewGuid();
        Assert.Equal(OfferDecision.Push, state.OnOffer(id, Origin, 0));

        Assert.Equal(OfferDecision.Ignore, state.OnOffer(id, Origin, 0));
        Assert.Equal(Origin, state.OnAck(id));
        Assert.Null(state.OnAck(id));
        state.OnStored(id);                  // stored after all (the ack came late): nothing to read for it
        Assert.Null(state.BeginRead(0));

        state.OnWake();
        var read = state.BeginRead(0)!;
        var outcome = state.EndRead([Stored(id)], read.Limit);
        Assert.Empty(outcome.Push);
        Assert.Equal([id], outcome.AckAgain);   // acked here, its delete did not land: delete it again
    }

    [Fact]
    public void Acks_route_to_the_origin_of_live_messages_and_to_the_store_for_mailbox_messages()
    {
        var state = new DeliveryState(4, Patience);
        var waiting = Guid.NewGuid();
        var read = state.BeginRead(0)!;
        state.EndRead([Stored(waiting)], read.Limit);
        var live = Guid.NewGuid();
        Assert.Equal(OfferDecision.Push, state.OnOffer(live, Origin, 0));

        Assert.Equal(DeliveryState.FromStore, state.OnAck(waiting));
        Assert.Equal(Origin, state.OnAck(live));
        Assert.Null(state.OnAck(Guid.NewGuid()));
    }

    [Fact]
    public void A_backlog_is_read_a_window_at_a_time_refilled_at_half_and_synced_once_drained()
    {
        var state = new DeliveryState(4, Patience);
        var backlog = Enumerable.Range(0, 6).Select(_ => Stored(Guid.NewGuid())).ToList();

        var read = state.BeginRead(0)!;
        var first = state.EndRead(backlog[..4], read.Limit);
        Assert.Equal(4, first.Push.Count);
        Assert.False(first.Synced);
        state.OnAck(backlog[0].Id);
        Assert.Null(state.BeginRead(0));     // one free of four: not yet
        state.OnAck(backlog[1].Id);
        read = state.BeginRead(0)!;
        Assert.Equal(2, read.Limit);
        // In flight, and just acknowledged (their deletes may not have landed yet): none is read again.
        Assert.Equal(backlog[..4].Select(m => m.Id).Order(), read.Exclude.Order());
        var second = state.EndRead(backlog[4..5], read.Limit);
        Assert.True(second.Synced);
        Assert.True(state.IsLive);
    }

    [Fact]
    public void A_failed_read_is_tried_again()
    {
        var state = new DeliveryState(4, Patience);
        state.BeginRead(0);
        state.ReadFailed();

        Assert.NotNull(state.BeginRead(0));
    }

    [Fact]
    public void Messages_acked_on_another_instance_leave_the_window_after_a_store_check()
    {
        var state = new DeliveryState(2, Patience);
        var (a, b) = (Stored(Guid.NewGuid()), Stored(Guid.NewGuid()));
        var read = state.BeginRead(0)!;
        state.EndRead([a, b], read.Limit);
        Assert.True(state.WindowFull);

        state.KeepOnly([b.Id]);

        Assert.False(state.WindowFull);
        Assert.Equal([b.Id], state.InFlightFromStore);
    }
}
