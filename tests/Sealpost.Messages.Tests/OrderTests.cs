using System.Buffers.Binary;
using Sealpost.Messages.Tests.Hosting;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests;

/// <summary>
/// docs/protocol.md, "Order": one sender socket's messages reach each socket of the recipient in send order, whatever
/// path each takes (live, mailbox, the other instance), and again in that order after a reconnect. Bodies carry the
/// send index so the recipient can check.
/// </summary>
[Collection(HostsCollection.Name)]
public sealed class OrderTests(MessagesHosts hosts)
{
    private static string Body(int index)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(bytes, index);
        return Convert.ToBase64String(bytes);
    }

    private static int IndexOf(ServerFrame message) => BinaryPrimitives.ReadInt32BigEndian(Convert.FromBase64String(message.Body!));

    /// <summary>Sends without waiting for answers (pipelined, as a busy client does), then waits for every <c>accepted</c>.</summary>
    private static async Task SendAllAsync(ProtocolClient socket, string to, int from, int count)
    {
        var ids = new HashSet<string>();
        for (var i = from; i < from + count; i++)
        {
            var id = Guid.NewGuid().ToString();
            ids.Add(id);
            await socket.SendAsync(new SendFrame(FrameTypes.Send, id, to, Body(i)));
        }
        while (ids.Count > 0)
        {
            var answer = await socket.NextAsync(f => f.Id is not null, TimeSpan.FromSeconds(30));
            Assert.Equal("accepted", answer.Type);
            ids.Remove(answer.Id!);
        }
    }

    /// <summary>Reads messages until <paramref name="count"/> distinct ones came, acking each when asked to.</summary>
    private static async Task<List<int>> ReceiveAsync(ProtocolClient socket, int count, bool ack = true, int seconds = 30)
    {
        var seen = new List<int>();
        var ids = new HashSet<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (ids.Count < count && DateTime.UtcNow < deadline)
        {
            ServerFrame message;
            try
            {
                message = await socket.NextOfTypeAsync("message", deadline - DateTime.UtcNow);
            }
            catch (TimeoutException)
            {
                break;
            }
            var id = message.MessageId!;
            Assert.True(ids.Add(id), $"message {id} came twice on one connection");
            seen.Add(IndexOf(message));
            if (ack) await socket.AckAsync(id);
        }
        return seen;
    }

    private static void InSendOrder(IReadOnlyList<int> seen, int expected)
    {
        Assert.Equal(expected, seen.Count);
        Assert.Equal(seen.Order(), seen);
    }

    [Fact]
    public async Task A_recipient_draining_its_mailbox_while_more_arrive_live_gets_them_all_in_send_order()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);
        await SendAllAsync(aliceSocket, bob.Username, 0, 120);

        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        var receiving = ReceiveAsync(bobSocket, 240);
        await SendAllAsync(aliceSocket, bob.Username, 120, 120);

        InSendOrder(await receiving, 240);
    }

    [Fact]
    public async Task Four_sockets_of_one_recipient_on_both_instances_each_see_one_senders_messages_in_order()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        var sockets = new List<ProtocolClient>();
        for (var i = 0; i < 4; i++) sockets.Add(await ProtocolClient.ConnectAsync(hosts.SocketUrl(i % 2), bob.AccessToken));
        foreach (var s in sockets) await s.NextOfTypeAsync("synced");
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);

        // Two sockets ack, two do not: the silent ones fill their windows (100) and refuse the rest, which goes through
        // the mailbox, where the first ack deletes it: each socket sees some of the 150, always in order.
        var receiving = sockets.Select((s, i) => ReceiveAsync(s, i < 2 ? 150 : 100, ack: i < 2, seconds: 5)).ToList();
        await SendAllAsync(aliceSocket, bob.Username, 0, 150);

        foreach (var seen in await Task.WhenAll(receiving))
        {
            Assert.NotEmpty(seen);
            Assert.Equal(seen.Order(), seen);
        }
        foreach (var s in sockets) await s.DisposeAsync();
    }

    [Fact]
    public async Task A_recipient_that_never_acks_gets_a_window_in_order_and_everything_in_order_after_reconnecting()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);
        await using (var silent = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken))
        {
            await silent.NextOfTypeAsync("synced");
            var receiving = ReceiveAsync(silent, 150, ack: false, seconds: 5);
            await SendAllAsync(aliceSocket, bob.Username, 0, 150);
            var window = await receiving;
            Assert.Equal(100, window.Count);
            Assert.Equal(Enumerable.Range(0, 100), window);
        }

        await using var again = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), bob.AccessToken);
        Assert.Equal(Enumerable.Range(0, 150), await ReceiveAsync(again, 150));
        await Eventually.HoldsAsync(async () => await hosts.MailboxCountAsync(bob.Username) == 0, "acked messages stayed in the mailbox");
    }

    [Fact]
    public async Task Acks_batched_in_one_frame_across_instances_accept_every_message_and_leave_nothing_behind()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        await bobSocket.NextOfTypeAsync("synced");
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);

        var acking = Task.Run(async () =>
        {
            var seen = new List<int>();
            for (var batch = 0; batch < 6; batch++)
            {
                var messages = new List<ServerFrame>();
                for (var n = 0; n < 10; n++) messages.Add(await bobSocket.NextOfTypeAsync("message", TimeSpan.FromSeconds(30)));
                seen.AddRange(messages.Select(IndexOf));
                await bobSocket.SendAsync(new AckFrame(FrameTypes.Ack, MessageIds: [.. messages.Select(m => m.MessageId!)]));
            }
            return seen;
        });
        await SendAllAsync(aliceSocket, bob.Username, 0, 60);

        Assert.Equal(Enumerable.Range(0, 60), await acking);
        await Eventually.HoldsAsync(async () => await hosts.MailboxCountAsync(bob.Username) == 0, "batch-acked messages stayed in the mailbox");
        Assert.True(await bobSocket.NothingOfTypeAsync("message", TimeSpan.FromSeconds(1)), "a batch-acked message came again");
    }

    [Fact]
    public async Task Acks_racing_the_write_leave_nothing_behind_and_every_message_accepted_once()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        await bobSocket.NextOfTypeAsync("synced");
        await using var aliceSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);

        // Acks spread across the grace before the write (200 ms here): some land before it, some during, some after.
        var random = new Random(7);
        var acking = Task.Run(async () =>
        {
            var acks = new List<Task>();
            for (var n = 0; n < 100; n++)
            {
                var id = (await bobSocket.NextOfTypeAsync("message", TimeSpan.FromSeconds(30))).MessageId!;
                var delay = random.Next(0, 400);
                acks.Add(Task.Run(async () =>
                {
                    await Task.Delay(delay);
                    await bobSocket.AckAsync(id);
                }));
            }
            await Task.WhenAll(acks);
        });
        await SendAllAsync(aliceSocket, bob.Username, 0, 100);
        await acking;

        await Eventually.HoldsAsync(async () => await hosts.MailboxCountAsync(bob.Username) == 0, "acked messages stayed in the mailbox");
        Assert.True(await bobSocket.NothingOfTypeAsync("message", TimeSpan.FromSeconds(1)), "an acked message came again on the same connection");
    }
}
