using System.Net.WebSockets;
using System.Net;
using System.Text;
using Sealpost.Messages.Tests.Hosting;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests;

/// <summary>
/// Hostile frames and tokens: each gets an error frame with a stable code or a clear close code, the service stays
/// up, and no stored message is lost or touched.
/// </summary>
[Collection(HostsCollection.Name)]
public sealed class HostileFrameTests(MessagesHosts hosts)
{
    public static TheoryData<string, string> BadFrames() => new()
    {
        { "not json", "bad_frame" },
        { "{", "bad_frame" },
        { "[]", "bad_frame" },
        { "\"send\"", "bad_frame" },
        { "{}", "bad_frame" },
        { """{"type":"launch"}""", "bad_frame" },
        { """{"type":42}""", "bad_frame" },
        { """{"type":"send"}""", "bad_frame" },
        { """{"type":"send","id":"not-a-uuid","to":"bob_x","body":"AAAA"}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a11","to":"bob_x"}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a12","to":["bob"],"body":"AAAA"}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a13","to":"RECIPIENT","body":"not base64!!"}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a14","to":"RECIPIENT","body":""}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a15","to":"' OR 1=1 --","body":"AAAA"}""", "unknown_recipient" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a16","to":"'; DROP TABLE messages; --","body":"AAAA"}""", "unknown_recipient" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a17","to":"nobody_by_this_name","body":"AAAA"}""", "unknown_recipient" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a18","to":"RECIPIENT","body":"AAAA","envelopes":[{"device":1,"body":"AAAA"}]}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a19","to":"RECIPIENT","envelopes":[]}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a1a","to":"RECIPIENT","envelopes":[{"device":0,"body":"AAAA"}]}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a1b","to":"RECIPIENT","envelopes":[{"device":1,"body":"AAAA"},{"device":1,"body":"AAAA"}]}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a1c","to":"RECIPIENT","envelopes":[{"device":"one","body":"AAAA"}]}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a1d","to":"RECIPIENT","envelopes":[{"device":1}]}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a1e","to":"RECIPIENT","envelopes":[null]}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a1f","to":"RECIPIENT","body":"AAAA","copies":[{"device":2,"body":"AAAA"}]}""", "bad_frame" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a20","to":"RECIPIENT","envelopes":[{"device":1,"body":"AAAA"}],"copies":[{"device":2,"body":"AAAA"}]}""", "stale_devices" },
        { """{"type":"send","id":"5b0a0f39-6d3c-4a55-9e0e-2a8f0c7f1a21","to":"RECIPIENT","envelopes":[{"device":2,"body":"AAAA"}]}""", "stale_devices" },
        { """{"type":"ack","message_id":"not a uuid"}""", "bad_frame" },
        { """{"type":"ack","message_id":{"$ne":null}}""", "bad_frame" },
        { """{"type":"auth","access_token":"forged"}""", "unauthorized" },
    };

    [Theory]
    [MemberData(nameof(BadFrames))]
    public async Task A_bad_frame_gets_an_error_frame_and_the_socket_survives(string frame, string code)
    {
        var (sender, recipient, waiting) = await PartiesWithOneWaitingMessageAsync();
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), sender.AccessToken);

        await socket.Raw.SendTextAsync(frame.Replace("RECIPIENT", recipient.Username, StringComparison.Ordinal));
        var error = await socket.NextOfTypeAsync("error");

        Assert.Equal(code, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        Assert.Equal("accepted", (await socket.SendMessageAsync(recipient.Username, Mailbox.Body())).Type);
        Assert.Equal(2, await hosts.MailboxCountAsync(recipient.Username));
        Assert.NotNull(waiting);
    }

    [Fact]
    public async Task A_binary_frame_is_refused_with_bad_frame()
    {
        var user = await hosts.Users.Api.NewUserAsync("bin");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), user.AccessToken);

        await socket.Raw.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary);

        Assert.Equal("bad_frame", (await socket.NextOfTypeAsync("error")).Code);
    }

    [Fact]
    public async Task A_recipient_of_ten_kilobytes_is_unknown_and_an_oversized_body_is_too_large()
    {
        var user = await hosts.Users.Api.NewUserAsync("big");
        var other = await hosts.Users.Api.NewUserAsync("big");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), user.AccessToken);

        Assert.Equal("unknown_recipient", (await socket.SendMessageAsync(new string('x', 10_000), "AAAA")).Code);
        var tooLarge = await socket.SendMessageAsync(other.Username, Convert.ToBase64String(new byte[48 * 1024 + 3]));
        Assert.Equal("too_large", tooLarge.Code);
        Assert.Equal(0, await hosts.MailboxCountAsync(other.Username));
        var largest = await socket.SendMessageAsync(other.Username, Convert.ToBase64String(new byte[48 * 1024]));
        Assert.Equal("accepted", largest.Type);
    }

    [Fact]
    public async Task An_oversized_frame_closes_the_socket_with_1009()
    {
        var user = await hosts.Users.Api.NewUserAsync("huge");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), user.AccessToken);

        await socket.Raw.SendTextAsync("{\"type\":\"send\",\"body\":\"" + new string('A', Protocol.Limits.FrameMaxBytes) + "\"}");
        await socket.Closed.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
        using var health = await hosts.Instances[0].CreateClient().GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Acks_for_someone_elses_or_unknown_messages_delete_nothing()
    {
        var (_, recipient, waiting) = await PartiesWithOneWaitingMessageAsync();
        var mallory = await hosts.Users.Api.NewUserAsync("mallory");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), mallory.AccessToken);

        await socket.AckAsync(waiting);
        await socket.AckAsync(Guid.NewGuid().ToString());
        await socket.AckAsync(Guid.Empty.ToString());
        await Task.Delay(500);

        Assert.Equal(1, await hosts.MailboxCountAsync(recipient.Username));
        await using var owner = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), recipient.AccessToken);
        Assert.Equal(waiting, (await owner.NextOfTypeAsync("message")).MessageId);
    }

    [Fact]
    public async Task A_flood_of_frames_from_one_user_is_answered_with_rate_limited()
    {
        var flooder = await hosts.Users.Api.NewUserAsync("flood");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), flooder.AccessToken);

        for (var i = 0; i < 1000; i++) await socket.Raw.SendTextAsync("""{"type":"auth","access_token":"x"}""");

        Assert.Equal("rate_limited", (await socket.NextAsync(f => f.Code == "rate_limited")).Code);
    }

    [Fact]
    public async Task A_flood_of_acks_has_its_own_larger_budget()
    {
        var acker = await hosts.Users.Api.NewUserAsync("acker");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), acker.AccessToken);
        const string ack = """{"type":"ack","message_id":"00000000-0000-0000-0000-000000000001"}""";

        for (var i = 0; i < 1000; i++) await socket.Raw.SendTextAsync(ack);
        Assert.True(await socket.NothingOfTypeAsync("error", TimeSpan.FromSeconds(1)), "1,000 acks, five times the budget for other frames, were refused");

        for (var i = 0; i < 10_000; i++) await socket.Raw.SendTextAsync(ack);
        Assert.Equal("rate_limited", (await socket.NextOfTypeAsync("error")).Code);

        // Answered, never cut off: the socket still works.
        var other = await hosts.Users.Api.NewUserAsync("after");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal("accepted", (await socket.SendMessageAsync(other.Username, Mailbox.Body())).Type);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, socket.State);
    }

    [Fact]
    public async Task A_flood_of_batched_acks_is_counted_per_id_and_answered_with_rate_limited()
    {
        var acker = await hosts.Users.Api.NewUserAsync("batch");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), acker.AccessToken);
        var ids = string.Join(",", Enumerable.Range(0, 256).Select(_ => $"\"{Guid.NewGuid()}\""));

        for (var i = 0; i < 40; i++) await socket.Raw.SendTextAsync($$"""{"type":"ack","message_ids":[{{ids}}]}""");

        Assert.Equal("rate_limited", (await socket.NextOfTypeAsync("error")).Code);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, socket.State);
    }

    [Theory]
    [InlineData("""{"type":"ack"}""")]
    [InlineData("""{"type":"ack","message_ids":[]}""")]
    [InlineData("""{"type":"ack","message_ids":["not-a-uuid"]}""")]
    [InlineData("""{"type":"ack","message_ids":[1]}""")]
    [InlineData("""{"type":"ack","message_id":"00000000-0000-0000-0000-000000000001","message_ids":["00000000-0000-0000-0000-000000000001"]}""")]
    public async Task A_malformed_ack_is_a_bad_frame(string frame)
    {
        var user = await hosts.Users.Api.NewUserAsync("badack");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), user.AccessToken);

        await socket.Raw.SendTextAsync(frame);

        Assert.Equal("bad_frame", (await socket.NextOfTypeAsync("error")).Code);
    }

    public static TheoryData<string?> BadTokens() => [null, "", "garbage", "a.b.c", "' OR 1=1 --", new string('a', 5000)];

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task A_socket_without_a_valid_token_is_refused_before_the_upgrade(string? token)
    {
        var error = await Assert.ThrowsAsync<WebSocketException>(() => ProtocolClient.ConnectAsync(hosts.SocketUrl(0), token));
        Assert.Contains("401", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_in_the_query_string_works_for_browsers_and_a_foreign_origin_is_refused()
    {
        var user = await hosts.Users.Api.NewUserAsync("browser");
        await using var socket = await ProtocolClient.ConnectAsync(new Uri(hosts.SocketUrl(0) + "?access_token=" + user.AccessToken), null);
        Assert.Equal(WebSocketState.Open, socket.State);

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, hosts.Instances[0].BaseAddress + "v1/ws");
        request.Headers.Add("Connection", "Upgrade");
        request.Headers.Add("Upgrade", "websocket");
        request.Headers.Add("Sec-WebSocket-Version", "13");
        request.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(Encoding.ASCII.GetBytes("0123456789abcdef")));
        request.Headers.Add("Origin", "https://evil.example");
        request.Headers.Add("Authorization", "Bearer " + user.AccessToken);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task An_expired_token_is_refused()
    {
        var user = await hosts.Users.Api.NewUserAsync("lapse");
        var expired = Tokens.Mint(hosts.Users, user, TimeSpan.FromMinutes(-5));

        await Assert.ThrowsAsync<WebSocketException>(() => ProtocolClient.ConnectAsync(hosts.SocketUrl(0), expired));
    }

    [Fact]
    public async Task Someone_elses_token_cannot_renew_a_socket()
    {
        var user = await hosts.Users.Api.NewUserAsync("own");
        var other = await hosts.Users.Api.NewUserAsync("other");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(0), user.AccessToken);

        await socket.AuthAsync(other.AccessToken);

        Assert.Equal("unauthorized", (await socket.NextOfTypeAsync("error")).Code);
    }

    private async Task<(TestUser Sender, TestUser Recipient, string WaitingId)> PartiesWithOneWaitingMessageAsync()
    {
        var sender = await hosts.Users.Api.NewUserAsync("snd");
        var recipient = await hosts.Users.Api.NewUserAsync("rcp");
        await using var socket = await ProtocolClient.ConnectAsync(hosts.SocketUrl(1), sender.AccessToken);
        var accepted = await socket.SendMessageAsync(recipient.Username, Mailbox.Body());
        return (sender, recipient, accepted.MessageId!);
    }
}
