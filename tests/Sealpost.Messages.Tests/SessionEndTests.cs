using System.Net.WebSockets;
using System.Net;
using Sealpost.Messages.Tests.Hosting;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests;

/// <summary>
/// A socket lives no longer than its session: when the users service ends sessions (logout, key rotation, a new
/// password, a deleted account) it says so on Redis, and the messages instances close those sockets with 4401 at once
/// instead of when their tokens expire (issue 10 item 11). And an ended session's token opens no socket and renews none,
/// whether or not that notice arrives: the messages service asks the users service (security review M1, decision 84).
/// </summary>
[Collection(HostsCollection.Name)]
public sealed class SessionEndTests(MessagesHosts hosts)
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_key_rotation_closes_the_other_sessions_sockets_and_a_logout_closes_its_own()
    {
        var user = await hosts.Users.Api.NewUserAsync("ending");
        var other = await hosts.Users.Api.LoginAsync(user.Username);
        await using var mine = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), user.AccessToken);
        await using var theirs = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), other.AccessToken);
        await using var theirsHere = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), other.AccessToken);

        using var rotated = await hosts.Users.Api.RotateKeyRawAsync(user.AccessToken, AccountRules.EncodePublicKey(UsersApi.NewPublicKey()), user.Password);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        await theirs.Closed.WaitAsync(Soon);
        await theirsHere.Closed.WaitAsync(Soon);
        Assert.Equal((WebSocketCloseStatus)CloseCodes.TokenExpired, theirs.CloseStatus);
        Assert.Equal((WebSocketCloseStatus)CloseCodes.TokenExpired, theirsHere.CloseStatus);
        Assert.Contains("session ended", theirs.CloseDescription, StringComparison.Ordinal);
        // The session that rotated keeps its socket, and it still works.
        var sent = await mine.SendMessageAsync(user.Username, Mailbox.Body());
        Assert.Equal("accepted", sent.Type);

        using var logout = await hosts.Users.Api.SendAsync(HttpMethod.Delete, "v1/sessions/current", user.AccessToken);
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        await mine.Closed.WaitAsync(Soon);
        Assert.Equal((WebSocketCloseStatus)CloseCodes.TokenExpired, mine.CloseStatus);
    }

    [Fact]
    public async Task Deleting_the_account_closes_every_socket()
    {
        var user = await hosts.Users.Api.NewUserAsync("gone");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), user.AccessToken);

        using var deleted = await hosts.Users.Api.SendAsync(HttpMethod.Delete, "v1/accounts/me", user.AccessToken,
            $"{{\"current_password\":\"{user.Password}\"}}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await socket.Closed.WaitAsync(Soon);
        Assert.Equal((WebSocketCloseStatus)CloseCodes.TokenExpired, socket.CloseStatus);
    }

    [Fact]
    public async Task A_logged_out_token_is_refused_at_connect_and_in_auth_without_any_notice()
    {
        // An instance that hears no notices at all (no Redis): what every instance is while Redis is away.
        var settings = hosts.Settings();
        settings["Redis:Configuration"] = "";
        await using var deaf = new MessagesHost(settings);
        var user = await hosts.Users.Api.NewUserAsync("loggedout");
        var other = await hosts.Users.Api.LoginAsync(user.Username);
        await using var open = await ProtocolClient.ConnectAsync(deaf.SocketUrl, other.AccessToken);
        await (await ProtocolClient.ConnectAsync(deaf.SocketUrl, user.AccessToken)).DisposeAsync();

        using var logout = await hosts.Users.Api.SendAsync(HttpMethod.Delete, "v1/sessions/current", user.AccessToken);
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        // A live answer may be kept for under a second.
        await Task.Delay(TimeSpan.FromSeconds(1));

        var refused = await Assert.ThrowsAsync<WebSocketException>(() => ProtocolClient.ConnectAsync(deaf.SocketUrl, user.AccessToken));
        Assert.Contains("401", refused.Message, StringComparison.Ordinal);
        await open.AuthAsync(user.AccessToken);
        Assert.Equal("unauthorized", (await open.NextOfTypeAsync("error")).Code);
        // The other session's own token still renews its socket.
        await open.AuthAsync(other.AccessToken);
        await open.NextOfTypeAsync("authenticated");
    }

    [Fact]
    public async Task A_replayed_refresh_token_ends_its_session_and_closes_its_sockets()
    {
        var user = await hosts.Users.Api.NewUserAsync("replayed");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), user.AccessToken);

        var (rotated, _) = await hosts.Users.Api.TryRefreshAsync(user.Session.RefreshToken);
        Assert.Equal(HttpStatusCode.OK, rotated);
        var (replayed, _) = await hosts.Users.Api.TryRefreshAsync(user.Session.RefreshToken);
        Assert.Equal(HttpStatusCode.Unauthorized, replayed);

        await socket.Closed.WaitAsync(Soon);
        Assert.Equal((WebSocketCloseStatus)CloseCodes.TokenExpired, socket.CloseStatus);
        Assert.Contains("session ended", socket.CloseDescription, StringComparison.Ordinal);
    }
}
