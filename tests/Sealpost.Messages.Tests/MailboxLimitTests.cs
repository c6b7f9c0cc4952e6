using Sealpost.Testing;

namespace Sealpost.Messages.Tests;

/// <summary>A stack whose mailboxes hold three messages for two seconds, swept every second.</summary>
public sealed class SmallMailboxStack() : SealpostStack(new Dictionary<string, string>
{
    ["Mailboxes:Quota"] = "3",
    ["Mailboxes:MessageLifetime"] = "00:00:02",
    ["Mailboxes:SweepInterval"] = "00:00:01",
});

public sealed class MailboxLimitTests(SmallMailboxStack stack) : IClassFixture<SmallMailboxStack>
{
    [Fact]
    public async Task A_full_mailbox_refuses_with_mailbox_full_and_keeps_what_it_has()
    {
        var alice = await stack.Users.Api.NewUserAsync("alice");
        var bob = await stack.Users.Api.NewUserAsync("bob");
        await using var socket = await SocketClient.ConnectAsync(stack.SocketUrl(0), alice.AccessToken);

        for (var i = 0; i < 3; i++) Assert.Equal("accepted", (await socket.SendMessageAsync(bob.Username, Mailbox.Body())).GetProperty("type").GetString());
        var refused = await socket.SendMessageAsync(bob.Username, Mailbox.Body());

        Assert.Equal("mailbox_full", refused.GetProperty("code").GetString());
        Assert.Equal(3, await stack.MailboxCountAsync(bob.Username));
    }

    [Fact]
    public async Task Undelivered_messages_expire_and_are_swept_away()
    {
        var alice = await stack.Users.Api.NewUserAsync("alice");
        var bob = await stack.Users.Api.NewUserAsync("bob");
        await using (var socket = await SocketClient.ConnectAsync(stack.SocketUrl(0), alice.AccessToken))
            Assert.Equal("accepted", (await socket.SendMessageAsync(bob.Username, Mailbox.Body())).GetProperty("type").GetString());
        // `accepted` means it was stored; on a loaded machine it may already be swept by the time we could look.

        await Eventually.HoldsAsync(async () => await stack.MailboxCountAsync(bob.Username) == 0, seconds: 15);

        await using var bobSocket = await SocketClient.ConnectAsync(stack.SocketUrl(1), bob.AccessToken);
        Assert.True(await bobSocket.NothingOfTypeAsync("message", TimeSpan.FromSeconds(1)));
    }
}
