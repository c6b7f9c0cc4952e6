using Sealpost.Messages.Tests.Hosting;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests;

/// <summary>A stack whose mailboxes hold three messages (two from any one sender), and where a sender may have four stored a day.</summary>
public sealed class SmallMailboxStack() : MessagesHosts(new Dictionary<string, string>
{
    ["Mailboxes:Quota"] = "3",
    ["Mailboxes:QuotaPerSender"] = "2",
    ["Mailboxes:StoredPerSenderPerDay"] = "4",
});

/// <summary>A stack whose messages wait two seconds, swept every second.</summary>
public sealed class ShortLivedMailboxStack() : MessagesHosts(new Dictionary<string, string>
{
    ["Mailboxes:MessageLifetime"] = "00:00:02",
    ["Mailboxes:SweepInterval"] = "00:00:01",
});

public sealed class MailboxLimitTests(SmallMailboxStack hosts) : IClassFixture<SmallMailboxStack>
{
    [Fact]
    public async Task A_full_mailbox_refuses_with_mailbox_full_and_keeps_what_it_has()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var carol = await hosts.Users.Api.NewUserAsync("carol");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken);
        await using var other = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), carol.AccessToken);

        for (var i = 0; i < 2; i++) Assert.Equal("accepted", (await socket.SendMessageAsync(bob.Username, Mailbox.Body())).Type);
        Assert.Equal("accepted", (await other.SendMessageAsync(bob.Username, Mailbox.Body())).Type);
        var refused = await other.SendMessageAsync(bob.Username, Mailbox.Body());

        Assert.Equal("mailbox_full", refused.Code);
        Assert.Contains("mailbox is full", refused.Message, StringComparison.Ordinal);
        Assert.Equal(3, await hosts.MailboxCountAsync(bob.Username));
    }

    /// <summary>docs/security.md, item 10: one account cannot fill somebody's mailbox, nor everybody's.</summary>
    [Fact]
    public async Task One_sender_fills_only_its_share_of_a_mailbox_and_only_so_many_a_day()
    {
        var mallory = await hosts.Users.Api.NewUserAsync("mallory");
        var carol = await hosts.Users.Api.NewUserAsync("carol");
        var victims = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => hosts.Users.Api.NewUserAsync("bob")));
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), mallory.AccessToken);

        for (var i = 0; i < 2; i++) Assert.Equal("accepted", (await socket.SendMessageAsync(victims[0].Username, Mailbox.Body())).Type);
        var share = await socket.SendMessageAsync(victims[0].Username, Mailbox.Body());
        Assert.Equal("mailbox_full", share.Code);
        Assert.Contains("from one sender", share.Message, StringComparison.Ordinal);
        // Somebody else still gets in.
        await using (var friend = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), carol.AccessToken))
            Assert.Equal("accepted", (await friend.SendMessageAsync(victims[0].Username, Mailbox.Body())).Type);

        // Two more stored today (four in all), and the day's budget is spent, whoever the recipient.
        Assert.Equal("accepted", (await socket.SendMessageAsync(victims[1].Username, Mailbox.Body())).Type);
        Assert.Equal("accepted", (await socket.SendMessageAsync(victims[1].Username, Mailbox.Body())).Type);
        var day = await socket.SendMessageAsync(victims[2].Username, Mailbox.Body());
        Assert.Equal("rate_limited", day.Code);
        Assert.Contains("tomorrow", day.Message, StringComparison.Ordinal);
        Assert.Equal(0, await hosts.MailboxCountAsync(victims[2].Username));
        Assert.Equal(3, await hosts.MailboxCountAsync(victims[0].Username));
    }
}

public sealed class MailboxExpiryTests(ShortLivedMailboxStack hosts) : IClassFixture<ShortLivedMailboxStack>
{
    [Fact]
    public async Task Undelivered_messages_expire_and_are_swept_away()
    {
        var alice = await hosts.Users.Api.NewUserAsync("alice");
        var bob = await hosts.Users.Api.NewUserAsync("bob");
        await using (var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), alice.AccessToken))
            Assert.Equal("accepted", (await socket.SendMessageAsync(bob.Username, Mailbox.Body())).Type);
        // `accepted` means it was stored; on a loaded machine it may already be swept by the time we could look.

        await Eventually.HoldsAsync(async () => await hosts.MailboxCountAsync(bob.Username) == 0, seconds: 15);

        await using var bobSocket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), bob.AccessToken);
        Assert.True(await bobSocket.NothingOfTypeAsync("message", TimeSpan.FromSeconds(1)));
    }
}
