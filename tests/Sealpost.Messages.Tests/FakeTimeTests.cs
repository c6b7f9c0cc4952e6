using System.Net.WebSockets;
using Microsoft.Extensions.Time.Testing;
using Sealpost.Messages.Tests.Hosting;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests;

/// <summary>
/// What the messages service does when its time comes, on a clock the test moves (one instance in this process whose
/// <see cref="TimeProvider"/> is a <see cref="FakeTimeProvider"/>): nothing happens while the clock stands, everything
/// happens once it has moved, however slow the machine.
/// </summary>
[Collection(HostsCollection.Name)]
public sealed class FakeTimeTests(MessagesHosts hosts)
{
    [Fact]
    public async Task A_socket_closes_with_4401_when_its_token_lapses_unless_the_token_was_renewed()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = hosts.StartAnother(clock);
        var user = await hosts.Api.NewUserAsync("lapse");
        var minute = Tokens.Mint(hosts.Users, user, TimeSpan.FromMinutes(1));
        await using var renewed = await ProtocolClient.ConnectAsync(host.SocketUrl, minute);
        await using var lapsing = await ProtocolClient.ConnectAsync(host.SocketUrl, minute);
        await renewed.AuthAsync(user.AccessToken);
        await renewed.NextOfTypeAsync("authenticated");

        clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        await lapsing.Closed.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(4401, (int)lapsing.CloseStatus!);
        Assert.Equal(WebSocketState.Open, renewed.State);
    }

    [Fact]
    public async Task A_live_message_nobody_acknowledges_is_written_when_the_grace_passes_and_only_then_accepted()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = hosts.StartAnother(clock);
        var alice = await hosts.Api.NewUserAsync("alice");
        var bob = await hosts.Api.NewUserAsync("bob");
        await using var bobSocket = await ProtocolClient.ConnectAsync(host.SocketUrl, bob.AccessToken);
        await SyncedAsync(bobSocket, clock);
        await using var aliceSocket = await ProtocolClient.ConnectAsync(host.SocketUrl, alice.AccessToken);
        var id = Guid.NewGuid().ToString();

        await aliceSocket.SendAsync(new SendFrame(FrameTypes.Send, id, bob.Username, Mailbox.Body()));
        var live = await bobSocket.NextOfTypeAsync("message");

        // Held for the grace (Sockets:AckGrace, 200 ms) while the clock stands: not written, not yet accepted.
        Assert.Equal(0, await hosts.MailboxCountAsync(bob.Username));
        clock.Advance(TimeSpan.FromSeconds(1));
        var accepted = await aliceSocket.NextAsync(f => f.Id == id);

        Assert.Equal(FrameTypes.Accepted, accepted.Type);
        Assert.Equal(live.MessageId, accepted.MessageId);
        Assert.Equal(1, await hosts.MailboxCountAsync(bob.Username));
    }

    // A new socket reads its mailbox once every instance on the bus has flushed; one that is slow to answer is waited
    // for on this clock, so it moves until the socket says it has caught up.
    private static async Task SyncedAsync(ProtocolClient socket, FakeTimeProvider clock)
    {
        for (var i = 0; i < 30; i++)
        {
            try
            {
                await socket.NextOfTypeAsync("synced", TimeSpan.FromSeconds(1));
                return;
            }
            catch (TimeoutException)
            {
                clock.Advance(TimeSpan.FromSeconds(1));
            }
        }
        throw new TimeoutException("the socket never caught up with its mailbox");
    }
}
