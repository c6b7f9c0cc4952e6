using System.Net.WebSockets;
using Sealpost.Messages.Tests.Hosting;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests;

[Collection(HostsCollection.Name)]
public sealed class DeliveryTests(MessagesHosts hosts)
{
    [Fact]
    public async Task Sender_on_one_instance_reaches_an_online_recipient_on_the_other_at_once()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);
        var body = Mailbox.Body();

        var accepted = await aliceSocket.SendMessageAsync(bob.Username, body);
        var message = await bobSocket.NextOfTypeAsync("message");

        Assert.Equal("accepted", accepted.Type);
        Assert.Equal(accepted.MessageId, message.MessageId);
        Assert.Equal(alice.Username, message.From);
        Assert.Equal(body, message.Body);
    }

    [Fact]
    public async Task Every_open_socket_of_the_recipient_gets_the_message()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var phone = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), bob.AccessToken);
        await using var laptop = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);

        var accepted = await aliceSocket.SendMessageAsync(bob.Username, Mailbox.Body());

        var id = accepted.MessageId;
        Assert.Equal(id, (await phone.NextOfTypeAsync("message")).MessageId);
        Assert.Equal(id, (await laptop.NextOfTypeAsync("message")).MessageId);
    }

    [Fact]
    public async Task Send_to_offline_user_is_delivered_on_connect_oldest_first_and_deleted_after_ack()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using (var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken))
        {
            for (var i = 0; i < 5; i++) Assert.Equal("accepted", (await aliceSocket.SendMessageAsync(bob.Username, Mailbox.Body())).Type);
        }
        Assert.Equal(5, await hosts.MailboxCountAsync(bob.Username));

        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        var messages = await bobSocket.CollectAsync("message", 5);
        var synced = await bobSocket.NextAsync();

        Assert.Equal(5, messages.Count);
        Assert.Equal("synced", synced.Type);
        var ids = messages.Select(m => Guid.Parse(m.MessageId!)).ToList();
        Assert.Equal(ids.Order().ToList(), ids);
        foreach (var id in ids) await bobSocket.AckAsync(id.ToString());
        await Eventually.HoldsAsync(async () => await hosts.MailboxCountAsync(bob.Username) == 0);
    }

    [Fact]
    public async Task Unacknowledged_messages_come_again_on_the_next_connection()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);
        var accepted = await aliceSocket.SendMessageAsync(bob.Username, Mailbox.Body());
        var id = accepted.MessageId;

        await using (var first = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), bob.AccessToken))
            Assert.Equal(id, (await first.NextOfTypeAsync("message")).MessageId);
        await using var second = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);

        Assert.Equal(id, (await second.NextOfTypeAsync("message")).MessageId);
        Assert.Equal(1, await hosts.MailboxCountAsync(bob.Username));
    }

    [Fact]
    public async Task A_resent_client_id_takes_the_place_of_its_waiting_copy_and_is_a_recognisable_copy_after_the_ack()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);
        var clientId = Guid.NewGuid();

        var first = await aliceSocket.SendMessageAsync(bob.Username, Mailbox.Body(), clientId);
        var again = await aliceSocket.SendMessageAsync(bob.Username, Mailbox.Body(), clientId);
        // One copy waits, under the resend's id: resent messages keep the order they were resent in (docs/protocol.md).
        Assert.NotEqual(first.MessageId, again.MessageId);
        Assert.Equal(1, await hosts.MailboxCountAsync(bob.Username));

        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        var delivered = await bobSocket.NextOfTypeAsync("message");
        Assert.Equal(again.MessageId, delivered.MessageId);
        Assert.Equal((clientId.ToString(), alice.Username), (delivered.ClientId, delivered.From));
        await bobSocket.AckAsync(delivered.MessageId!);
        await Eventually.HoldsAsync(async () => await hosts.MailboxCountAsync(bob.Username) == 0);

        // Acknowledged and gone, the message is forgotten: a late resend is a second copy, which bob recognises by
        // sender and client id (docs/protocol.md, "Duplicates").
        await using var otherSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), alice.AccessToken);
        var late = await otherSocket.SendMessageAsync(bob.Username, Mailbox.Body(), clientId);
        var copy = await bobSocket.NextOfTypeAsync("message");
        Assert.Equal(late.MessageId, copy.MessageId);
        Assert.NotEqual(first.MessageId, copy.MessageId);
        Assert.Equal((clientId.ToString(), alice.Username), (copy.ClientId, copy.From));
    }

    // A resend gets an id of its own; a socket that refused both copies must hear that each is settled, or it waits for
    // one of them and reads nothing more (the fault tests' silent recipient, issue 15).
    [Fact]
    public async Task A_resend_refused_by_a_busy_socket_does_not_stop_its_delivery()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);
        for (var i = 0; i < 100; i++)
            await aliceSocket.SendAsync(new SendFrame(FrameTypes.Send, Guid.NewGuid().ToString(), bob.Username, Mailbox.Body(16)));
        Assert.Equal(100, (await aliceSocket.CollectAsync("accepted", 100)).Count);
        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        var window = await bobSocket.CollectAsync("message", 100);

        // Bob's window is full, so his socket refuses both copies; the second takes the first's place in the mailbox.
        var clientId = Guid.NewGuid();
        await aliceSocket.SendMessageAsync(bob.Username, Mailbox.Body(), clientId);
        var again = await aliceSocket.SendMessageAsync(bob.Username, Mailbox.Body(), clientId);

        foreach (var m in window) await bobSocket.AckAsync(m.MessageId!);
        var next = await bobSocket.NextOfTypeAsync("message");
        Assert.Equal(again.MessageId, next.MessageId);
        await bobSocket.AckAsync(next.MessageId!);
        Assert.True(await bobSocket.NothingOfTypeAsync("message", TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Delivery_window_bounds_unacknowledged_messages_in_flight()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using (var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken))
        {
            for (var i = 0; i < 130; i++)
                await aliceSocket.SendAsync(new SendFrame(FrameTypes.Send, Guid.NewGuid().ToString(), bob.Username, Mailbox.Body(16)));
            Assert.Equal(130, (await aliceSocket.CollectAsync("accepted", 130)).Count);
        }

        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        var window = await bobSocket.CollectAsync("message", 130, TimeSpan.FromSeconds(3));
        Assert.Equal(100, window.Count);
        // The window is refilled once half of it is acknowledged, in one mailbox read.
        foreach (var m in window.Take(40)) await bobSocket.AckAsync(m.MessageId!);
        Assert.True(await bobSocket.NothingOfTypeAsync("message", TimeSpan.FromSeconds(1)));
        foreach (var m in window.Skip(40).Take(20)) await bobSocket.AckAsync(m.MessageId!);
        var more = await bobSocket.CollectAsync("message", 30, TimeSpan.FromSeconds(5));
        Assert.Equal(30, more.Count);
    }

    [Fact]
    public async Task Pipelined_sends_from_one_socket_arrive_in_the_order_they_were_sent()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);
        var bodies = Enumerable.Range(0, 200).Select(i => Convert.ToBase64String(BitConverter.GetBytes(i))).ToList();
        foreach (var body in bodies)
            await aliceSocket.SendAsync(new SendFrame(FrameTypes.Send, Guid.NewGuid().ToString(), bob.Username, body));
        Assert.Equal(200, (await aliceSocket.CollectAsync("accepted", 200)).Count);

        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        var received = new List<string>();
        while (received.Count < 200)
        {
            var batch = await bobSocket.CollectAsync("message", 100, TimeSpan.FromSeconds(5));
            Assert.NotEmpty(batch);
            received.AddRange(batch.Select(m => m.Body!));
            foreach (var m in batch) await bobSocket.AckAsync(m.MessageId!);
        }

        Assert.Equal(bodies, received);
    }

    [Fact]
    public async Task Live_messages_follow_the_drained_mailbox()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);
        var queued = (await aliceSocket.SendMessageAsync(bob.Username, Mailbox.Body())).MessageId;

        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        Assert.Equal(queued, (await bobSocket.NextOfTypeAsync("message")).MessageId);
        var live = (await aliceSocket.SendMessageAsync(bob.Username, Mailbox.Body())).MessageId;

        Assert.Equal(live, (await bobSocket.NextOfTypeAsync("message")).MessageId);
    }

    [Fact]
    public async Task An_instance_killed_after_accepted_loses_nothing()
    {
        await using var extra = await ServiceProcess.StartAsync("Sealpost.Messages", hosts.Settings());
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        var url = new Uri(extra.BaseAddress.ToString().Replace("http", "ws", StringComparison.Ordinal) + "v1/ws");
        var aliceSocket = await ProtocolClient.ConnectAsync(url, alice.AccessToken);
        var accepted = new List<string>();
        for (var i = 0; i < 20; i++) accepted.Add((await aliceSocket.SendMessageAsync(bob.Username, Mailbox.Body())).MessageId!);

        await extra.KillAsync();
        await aliceSocket.Closed.WaitAsync(TimeSpan.FromSeconds(10));

        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        var delivered = await bobSocket.CollectAsync("message", 20);
        Assert.Equal(accepted.Order(), delivered.Select(m => m.MessageId!).Order());
        await aliceSocket.DisposeAsync();
    }

    [Fact]
    public async Task Graceful_shutdown_closes_sockets_with_1001()
    {
        var extra = hosts.StartAnother();
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var socket = await ProtocolClient.ConnectAsync(extra.SocketUrl, bob.AccessToken);

        await extra.DisposeAsync();
        await socket.Closed.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, socket.CloseStatus);
    }
}
