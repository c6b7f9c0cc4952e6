using System.Net.WebSockets;
using Sealpost.Messages.Tests.Hosting;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests;

/// <summary>
/// The per-user limits are per account, whatever device a socket or a message comes from: an account with more devices
/// gets no more sockets, and no bigger share of someone's mailbox (security review M2, decision 85).
/// </summary>
[Collection(HostsCollection.Name)]
public sealed class AccountSocketCapTests(MessagesHosts hosts)
{
    [Fact]
    public async Task Two_devices_of_one_account_together_hit_the_socket_cap_of_one()
    {
        var account = await LinkedAccount.CreateAsync(hosts.Users, "capped");
        var sockets = new List<ProtocolClient>();
        try
        {
            // Sockets:MaxSocketsPerUser (16) on one instance, half from each device.
            for (var i = 0; i < 16; i++)
                sockets.Add(await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), (i % 2 == 0 ? account.Device1 : account.Device2).AccessToken));
            var extra = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), account.Device2.AccessToken);
            sockets.Add(extra);

            await extra.Closed.WaitAsync(TimeSpan.FromSeconds(10));
            // The close code docs/protocol.md promises, not an abrupt 1006 (issue 28: the refusal used to abort right after
            // sending its close frame, which a loaded machine had not sent yet).
            Assert.Equal((WebSocketCloseStatus)CloseCodes.TooManySockets, extra.CloseStatus);
            Assert.All(sockets[..16], s => Assert.Equal(WebSocketState.Open, s.State));
        }
        finally
        {
            foreach (var socket in sockets) await socket.DisposeAsync();
        }
    }
}

/// <summary>A stack whose mailboxes hold ten messages, two from any one sender account.</summary>
public sealed class SenderShareStack() : MessagesHosts(new Dictionary<string, string>
{
    ["Mailboxes:Quota"] = "10",
    ["Mailboxes:QuotaPerSender"] = "2",
});

/// <summary>
/// A sender with two devices sends as its clients do: an envelope for the recipient's device and a copy for its own
/// other device (docs/devices.md), which waits in that device's mailbox and counts like any stored message.
/// </summary>
internal static class TwoDeviceSends
{
    public static async Task<ServerFrame> SendAsync(ProtocolClient from, int fromDevice, string to)
    {
        var id = Guid.NewGuid().ToString();
        await from.SendAsync(new SendFrame(FrameTypes.Send, id, to,
            Envelopes: [new DeviceEnvelope(1, Mailbox.Body())], Copies: [new DeviceEnvelope(3 - fromDevice, Mailbox.Body())]));
        return await from.NextAsync(f => f.Id == id);
    }
}

public sealed class AccountShareTests(SenderShareStack hosts) : IClassFixture<SenderShareStack>
{
    [Fact]
    public async Task Two_devices_of_one_sender_together_hit_the_senders_share_of_a_mailbox()
    {
        var mallory = await LinkedAccount.CreateAsync(hosts.Users, "mallory");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var laptop = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), mallory.Device1.AccessToken);
        await using var phone = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), mallory.Device2.AccessToken);

        Assert.Equal("accepted", (await TwoDeviceSends.SendAsync(laptop, 1, bob.Username)).Type);
        Assert.Equal("accepted", (await TwoDeviceSends.SendAsync(phone, 2, bob.Username)).Type);
        var share = await TwoDeviceSends.SendAsync(phone, 2, bob.Username);

        Assert.Equal("mailbox_full", share.Code);
        Assert.Contains("from one sender", share.Message, StringComparison.Ordinal);
        Assert.Equal(2, await hosts.MailboxCountAsync(bob.Username));
    }
}

/// <summary>On the stack of <see cref="MailboxLimitTests"/>: a sender may have four messages stored a day.</summary>
public sealed class AccountDailyLimitTests(SmallMailboxStack hosts) : IClassFixture<SmallMailboxStack>
{
    [Fact]
    public async Task Two_devices_of_one_sender_together_hit_the_senders_daily_cap()
    {
        var mallory = await LinkedAccount.CreateAsync(hosts.Users, "mallory");
        var victims = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => hosts.Users.Api.NewUserAsync("bob")));
        await using var laptop = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), mallory.Device1.AccessToken);
        await using var phone = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), mallory.Device2.AccessToken);

        // Each send stores two: the recipient's envelope and the copy for the other device (not acknowledged).
        Assert.Equal("accepted", (await TwoDeviceSends.SendAsync(laptop, 1, victims[0].Username)).Type);
        Assert.Equal("accepted", (await TwoDeviceSends.SendAsync(phone, 2, victims[1].Username)).Type);
        var day = await TwoDeviceSends.SendAsync(laptop, 1, victims[2].Username);

        Assert.Equal("rate_limited", day.Code);
        Assert.Equal(0, await hosts.MailboxCountAsync(victims[2].Username));
    }
}
