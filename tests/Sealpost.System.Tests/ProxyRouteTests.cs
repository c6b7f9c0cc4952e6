using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using Sealpost.Testing;

namespace Sealpost.System.Tests;

/// <summary>
/// Message sockets through HAProxy: routed like a direct socket, and capped apart from REST (deploy/haproxy.cfg), per
/// source address and in all, so that one address cannot take every socket and REST keeps working when the sockets are
/// full (docs/security.md, issue 10 item 3). The cap tests run their own HAProxy, with low caps, in front of the stack's
/// instances.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class ProxyRouteTests(FaultStack stack)
{
    private Task<HaproxyProcess> StartHaproxyAsync(int perAddress, int total) => HaproxyProcess.StartAsync(
        [.. stack.Users.Instances.Select(i => i.Port)], [.. stack.Messages.Select(m => m.Port)],
        new Dictionary<string, string> { ["SEALPOST_SOCKETS_PER_ADDRESS"] = $"{perAddress}", ["SEALPOST_SOCKETS_TOTAL"] = $"{total}" });

    [Fact]
    public async Task Through_haproxy_a_socket_works_like_a_direct_one()
    {
        var alice = await stack.Api.NewUserAsync("alice");
        var bob = await stack.Api.NewUserAsync("bob");
        await using var bobSocket = await ProtocolClient.ConnectAsync(stack.SocketUrl(), bob.AccessToken);
        await using var aliceSocket = await ProtocolClient.ConnectAsync(stack.SocketUrl(), alice.AccessToken);

        var accepted = await aliceSocket.SendMessageAsync(bob.Username, Convert.ToBase64String(RandomNumberGenerator.GetBytes(64)));

        Assert.Equal(accepted.MessageId, (await bobSocket.NextOfTypeAsync("message")).MessageId);
    }

    [Fact]
    public async Task One_address_gets_429_beyond_its_socket_cap_and_a_socket_again_once_one_closes()
    {
        var user = await stack.Users.Api.NewUserAsync("capped");
        await using var haproxy = await StartHaproxyAsync(perAddress: 3, total: 100);
        var url = SocketUrl(haproxy);
        var open = new List<ProtocolClient>();
        for (var i = 0; i < 3; i++) open.Add(await ProtocolClient.ConnectAsync(url, user.AccessToken));

        Assert.Equal(HttpStatusCode.TooManyRequests, await RefusalAsync(url, user.AccessToken));
        await open[0].CloseAsync();
        await open[0].DisposeAsync();
        await Eventually.HoldsAsync(async () => await RefusalAsync(url, user.AccessToken) is null, "no socket after one of three closed");
        foreach (var socket in open.Skip(1)) await socket.DisposeAsync();
    }

    [Fact]
    public async Task When_every_socket_is_taken_rest_still_answers()
    {
        var user = await stack.Users.Api.NewUserAsync("full");
        await using var haproxy = await StartHaproxyAsync(perAddress: 100, total: 2);
        var url = SocketUrl(haproxy);
        await using var first = await ProtocolClient.ConnectAsync(url, user.AccessToken);
        await using var second = await ProtocolClient.ConnectAsync(url, user.AccessToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, await RefusalAsync(url, user.AccessToken));
        using var http = new HttpClient { BaseAddress = haproxy.BaseUrl };
        using var lookup = await http.GetAsync($"v1/accounts/{user.Username}");
        Assert.Equal(HttpStatusCode.OK, lookup.StatusCode);
    }

    private static Uri SocketUrl(HaproxyProcess haproxy) => new($"ws://127.0.0.1:{haproxy.Port}/v1/ws");

    /// <summary>The HTTP status the handshake was refused with, or null when the socket opened (it is closed again).</summary>
    private static async Task<HttpStatusCode?> RefusalAsync(Uri url, string token)
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await socket.ConnectAsync(url, CancellationToken.None);
        }
        catch (WebSocketException)
        {
            return socket.HttpStatusCode;
        }
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        return null;
    }
}
