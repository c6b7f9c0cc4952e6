using System.Net;
using System.Net.WebSockets;
using Npgsql;
using Sealpost.Client.Messaging;
using Sealpost.Crypto;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Client.Tests;

/// <summary>
/// Linked devices through the public surface (docs/devices.md): the SDK against the whole stack, HAProxy in front of two
/// users and two messages instances. Each device is its own profile, as on two machines.
/// </summary>
[Collection(StackCollection.Name)]
public sealed partial class LinkedDeviceTests(SealpostStack stack) : IAsyncLifetime
{
    private readonly List<TempHome> _homes = [];
    private readonly List<SealpostClient> _clients = [];

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 disposes a test class only through IDisposable or IAsyncLifetime.
    public async Task DisposeAsync()
    {
        foreach (var client in _clients) await client.DisposeAsync();
        foreach (var home in _homes) home.Dispose();
    }

    private SealpostClient NewClient(HttpMessageHandler? handler = null)
    {
        var home = new TempHome();
        _homes.Add(home);
        var client = new SealpostClient(new SealpostClientOptions { Server = stack.BaseUrl, Profile = home.Profile(), Passphrase = () => CliRunner.Passphrase, HttpHandler = handler });
        _clients.Add(client);
        return client;
    }

    private async Task<SealpostClient> RegisterAsync(string prefix, HttpMessageHandler? handler = null)
    {
        var client = NewClient(handler);
        await client.Accounts.RegisterAsync(TestEnvironment.UniqueUsername(prefix), CliRunner.Password, null, null, default);
        return client;
    }

    /// <summary>Links a new profile to <paramref name="existing"/>'s account as the design says: code on the new device, approval on the old.</summary>
    private async Task<SealpostClient> LinkAsync(SealpostClient existing, string name = "laptop")
    {
        var device = NewClient();
        var request = await device.Devices.RequestLinkAsync(Name(existing), name, default);
        var offer = await existing.Devices.InspectLinkAsync(request.Code.ToString(), default);
        Assert.Equal(name, offer.DeviceName);
        Assert.Equal(request.Fingerprint, offer.Fingerprint);
        var completing = device.Devices.CompleteLinkAsync(request, default);
        await existing.Devices.ApproveLinkAsync(offer, default);
        var account = await completing.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(existing.Accounts.Current!.Username, account.Username);
        Assert.Equal(offer.DeviceId, account.DeviceId);
        return device;
    }

    /// <summary>What waits for a device, read as `sealpost inbox` does: a client of its own, connected for this.</summary>
    private async Task<List<Message>> InboxAsync(SealpostClient device)
    {
        await using var reader = new SealpostClient(new SealpostClientOptions { Server = stack.BaseUrl, Profile = device.Options.Profile, Passphrase = () => CliRunner.Passphrase });
        return [.. await reader.Messages.FetchInboxAsync(TimeSpan.FromMilliseconds(500), default)];
    }

    private static string Name(SealpostClient client) => client.Accounts.Current!.Username;

    [Fact]
    public async Task A_linked_device_gets_every_message_sent_after_linking_and_each_device_acknowledges_for_itself()
    {
        var alice = await RegisterAsync("alice");
        var bob = await RegisterAsync("bob");
        await alice.Messages.SendAsync(Name(bob), "before linking", default);

        var laptop = await LinkAsync(bob);
        // Both offline: the messages wait in two mailboxes.
        await alice.Messages.SendAsync(Name(bob), "after linking", default);
        Assert.Equal(["before linking", "after linking"], (await InboxAsync(bob)).Select(e => e.Text));
        // The phone's acks did not delete the laptop's copy.
        Assert.Equal(["after linking"], (await InboxAsync(laptop)).Select(e => e.Text));
        // One online, one offline: the laptop gets it live, the phone finds it later.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using (var live = laptop.Messages.ReceiveAsync(timeout.Token).GetAsyncEnumerator(timeout.Token))
        {
            var next = live.MoveNextAsync();
            await alice.Messages.SendAsync(Name(bob), "to both again", default);
            Assert.True(await next);
            Assert.Equal("to both again", live.Current.Text);
        }
        Assert.Equal(["to both again"], (await InboxAsync(bob)).Select(e => e.Text));
        Assert.Equal(0, await SettledMailboxAsync(Name(bob)));
        Assert.Equal(0, await SettledMailboxAsync(Name(bob) + "/2"));
    }

    [Fact]
    public async Task My_sent_messages_appear_on_my_other_device_and_replies_reach_both()
    {
        var alice = await RegisterAsync("alice");
        var bob = await RegisterAsync("bob");
        var laptop = await LinkAsync(alice);

        await alice.Messages.SendAsync(Name(bob), "sent from the phone", default);
        await bob.Messages.SendAsync(Name(alice), "a reply", default);

        var onLaptop = await InboxAsync(laptop);
        var copy = Assert.Single(onLaptop, e => e.Direction == MessageDirection.Out);
        Assert.Equal("sent from the phone", copy.Text);
        Assert.Equal(Name(bob), copy.Peer);
        Assert.Equal(MessageStatus.Sent, copy.Status);
        Assert.Equal(1u, copy.FromDevice);
        var reply = Assert.Single(onLaptop, e => e.Direction == MessageDirection.In);
        Assert.Equal(("a reply", MessageStatus.Ok), (reply.Text, reply.Status));
        Assert.Equal(["a reply"], (await InboxAsync(alice)).Select(e => e.Text));
        // The copy is not delivered twice: a second fetch finds nothing.
        Assert.Empty(await InboxAsync(laptop));

        // And the other way round: sent from the laptop, shown as from alice's device 2, and on the phone as mine.
        await laptop.Messages.SendAsync(Name(bob), "sent from the laptop", default);
        var atBob = await InboxAsync(bob);
        Assert.Equal(["sent from the phone", "sent from the laptop"], atBob.Select(e => e.Text));
        Assert.Equal((MessageStatus.Ok, 1u, 2u), (atBob[1].Status, atBob[0].FromDevice ?? 1, atBob[1].FromDevice));
        var onPhone = Assert.Single(await InboxAsync(alice));
        Assert.Equal((MessageDirection.Out, "sent from the laptop", Name(bob)), (onPhone.Direction, onPhone.Text, onPhone.Peer));
    }

    [Fact]
    public async Task A_removed_device_receives_nothing_and_its_token_is_refused()
    {
        var alice = await RegisterAsync("alice");
        var bob = await RegisterAsync("bob");
        var laptop = await LinkAsync(bob);
        await alice.Messages.SendAsync(Name(bob), "waiting for the laptop", default);
        var laptopToken = (await laptop.Accounts.Session.GetAsync(default)).Value;

        await bob.Devices.RemoveAsync(2, CliRunner.Password, default);
        await alice.Messages.SendAsync(Name(bob), "after the removal", default);

        Assert.Equal(["waiting for the laptop", "after the removal"], (await InboxAsync(bob)).Select(e => e.Text));
        Assert.Equal([1u], (await bob.Devices.ListAsync(default)).Devices.Select(d => d.DeviceId));
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + laptopToken);
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(stack.SocketUrl(), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
        await Assert.ThrowsAsync<SealpostException>(() => InboxAsync(laptop));
        Assert.Equal(0, await SettledMailboxAsync(Name(bob) + "/2"));
    }

    /// <summary>
    /// A device's access token alone (stolen, or any device of the account) removes no other device: removal needs the
    /// account password, checked like every password, and until then device 1 and its waiting messages stay (security review M4).
    /// </summary>
    [Fact]
    public async Task Removing_a_device_needs_the_account_password_and_without_it_the_device_and_its_mailbox_stay()
    {
        var alice = await RegisterAsync("alice");
        var bob = await RegisterAsync("bob");
        var laptop = await LinkAsync(bob);
        for (var i = 0; i < 5; i++) await alice.Messages.SendAsync(Name(bob), $"waiting {i}", default);
        var laptopToken = (await laptop.Accounts.Session.GetAsync(default)).Value;
        using var http = new HttpClient { BaseAddress = stack.BaseUrl };

        foreach (var (body, status, code) in new (string?, HttpStatusCode, string)[]
        {
            (null, HttpStatusCode.BadRequest, "validation"),
            ("{}", HttpStatusCode.BadRequest, "validation"),
            ("""{"current_password":"not the password"}""", HttpStatusCode.Forbidden, "wrong-password"),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, "v1/accounts/me/devices/1");
            request.Headers.Authorization = new("Bearer", laptopToken);
            if (body is not null) request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            using var refused = await http.SendAsync(request);
            Assert.Equal(status, refused.StatusCode);
            var problem = System.Text.Json.JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal((status, "urn:sealpost:problem:" + code), (refused.StatusCode, problem.GetProperty("type").GetString()));
            if (status == HttpStatusCode.BadRequest) Assert.True(problem.GetProperty("errors").TryGetProperty("current_password", out _));
        }
        Assert.Equal([1u, 2u], (await laptop.Devices.ListAsync(default)).Devices.Select(d => d.DeviceId));
        Assert.Equal(5, await stack.MailboxCountAsync(Name(bob)));

        await laptop.Devices.RemoveAsync(1, CliRunner.Password, default);
        Assert.Equal([2u], (await laptop.Devices.ListAsync(default)).Devices.Select(d => d.DeviceId));
        await Assert.ThrowsAsync<SealpostException>(() => InboxAsync(bob));
    }

    [Fact]
    public async Task A_device_the_server_slips_in_is_refused_by_the_sender_with_a_clear_message()
    {
        var alice = await RegisterAsync("alice");
        var bob = await RegisterAsync("bob");
        await alice.Messages.SendAsync(Name(bob), "before the ghost", default);

        // The server's operator (or an attacker in its database) adds a device to bob's account with a key of their own.
        await using (var db = new NpgsqlConnection(stack.Users.ConnectionString))
        {
            await db.OpenAsync();
            await using var insert = new NpgsqlCommand("""
                WITH a AS (SELECT id FROM accounts WHERE username = $1),
                d AS (INSERT INTO devices (account_id, device_id, name, key_id) SELECT id, 7, 'ghost', 1 FROM a RETURNING account_id)
                INSERT INTO account_keys (account_id, device_id, key_id, public_key) SELECT account_id, 7, 1, $2 FROM d
                """, db);
            insert.Parameters.Add(new NpgsqlParameter { Value = Name(bob) });
            insert.Parameters.Add(new NpgsqlParameter { Value = X25519KeyPair.Generate().PublicKey.ToArray() });
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        }

        var refused = await Assert.ThrowsAsync<SealpostException>(() => alice.Messages.SendAsync(Name(bob), "never to the ghost", default));

        Assert.Equal(ErrorKind.Crypto, refused.Kind);
        Assert.Contains($"{Name(bob)}'s device 7 is not signed by {Name(bob)}'s identity key", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, await stack.MailboxCountAsync(Name(bob) + "/7"));
        Assert.Equal(["before the ghost"], (await InboxAsync(bob)).Select(e => e.Text));
    }

    [Fact]
    public async Task A_send_sealed_for_an_old_device_list_gets_stale_devices_and_the_client_seals_again()
    {
        var alice = await RegisterAsync("alice");
        var bob = await RegisterAsync("bob");
        await LinkAsync(bob);
        var access = await alice.Accounts.Session.GetAsync(default);
        await using var raw = await ProtocolClient.ConnectAsync(stack.SocketUrl(0), access.Value);

        // Sealed as if bob still had one device.
        var id = Guid.NewGuid().ToString();
        await raw.SendAsync(new SendFrame(FrameTypes.Send, id, Name(bob), Envelopes: [new DeviceEnvelope(1, "AAAA")]));
        var stale = await raw.NextAsync(f => f.Id == id);
        var sent = await alice.Messages.SendAsync(Name(bob), "to both devices", default);

        Assert.Equal("stale_devices", stale.Code);
        Assert.Equal([1, 2], stale.RecipientDevices!);
        Assert.Empty(stale.OwnDevices!);
        // Only the client's send is stored, once per device; the stale frame stored nothing.
        Assert.Equal(1, await stack.MailboxCountAsync(Name(bob)));
        Assert.Equal(1, await stack.MailboxCountAsync(Name(bob) + "/2"));
        Assert.NotNull(sent.MessageId);
    }

    [Fact]
    public async Task A_password_login_on_a_machine_never_linked_reads_nothing_and_takes_nothing()
    {
        var alice = await RegisterAsync("alice");
        var bob = await RegisterAsync("bob");
        await alice.Messages.SendAsync(Name(bob), "for bob's phone", default);
        var stranger = NewClient();
        await stranger.Accounts.LoginAsync(Name(bob), CliRunner.Password, default);

        var refused = await Assert.ThrowsAsync<ProfileException>(() => stranger.Messages.FetchInboxAsync(TimeSpan.FromMilliseconds(500), default));

        Assert.Equal(ClientErrorCodes.NoDeviceKey, refused.Code);
        Assert.Contains("link", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, await stack.MailboxCountAsync(Name(bob)));
        Assert.Equal(["for bob's phone"], (await InboxAsync(bob)).Select(e => e.Text));
    }

    [Fact]
    public async Task A_link_code_works_once()
    {
        var bob = await RegisterAsync("bob");
        var device = NewClient();
        var request = await device.Devices.RequestLinkAsync(Name(bob), "tablet", default);
        var offer = await bob.Devices.InspectLinkAsync(request.Code.ToString(), default);
        await bob.Devices.ApproveLinkAsync(offer, default);
        await device.Devices.CompleteLinkAsync(request, default).WaitAsync(TimeSpan.FromSeconds(30));

        var again = await Assert.ThrowsAsync<SealpostException>(() => bob.Devices.InspectLinkAsync(request.Code.ToString(), default));
        var other = NewClient();
        var replayed = await Assert.ThrowsAnyAsync<Exception>(() => other.Devices.CompleteLinkAsync(request, default));

        Assert.Contains("link", again.Message, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(replayed);
    }

    /// <summary>
    /// Security review L3: a server that assigns the new device an id the account already uses (device 1 here) would get
    /// the approving device to certify the new key as that device. The id must be above every device the account lists.
    /// </summary>
    [Fact]
    public async Task A_device_id_the_server_reuses_for_a_link_is_refused_before_anything_is_signed()
    {
        using var tampering = new DeviceIdRewriter { InnerHandler = new SocketsHttpHandler() };
        var bob = await RegisterAsync("bob", tampering);
        var device = NewClient();
        var request = await device.Devices.RequestLinkAsync(Name(bob), "tablet", default);

        tampering.DeviceId = 1;
        var refused = await Assert.ThrowsAsync<SealpostException>(() => bob.Devices.InspectLinkAsync(request.Code.ToString(), default));
        tampering.DeviceId = null;
        var offer = await bob.Devices.InspectLinkAsync(request.Code.ToString(), default);

        Assert.Equal("link-device-id-taken", refused.Code);
        Assert.Contains("device 1", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2u, offer.DeviceId);
        var completing = device.Devices.CompleteLinkAsync(request, default);
        await bob.Devices.ApproveLinkAsync(offer, default);
        Assert.Equal(2u, (await completing.WaitAsync(TimeSpan.FromSeconds(30))).DeviceId);
    }

    /// <summary>A proxy that rewrites the device id in the server's answer to GET /v1/links/{id} while <see cref="DeviceId"/> is set.</summary>
    private sealed partial class DeviceIdRewriter : DelegatingHandler
    {
        public int? DeviceId { get; set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (DeviceId is not { } id || request.Method != HttpMethod.Get || request.RequestUri?.AbsolutePath.StartsWith("/v1/links/", StringComparison.Ordinal) != true)
                return response;
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var rewritten = DeviceIdField().Replace(body, $"\"device_id\":{id}");
            var content = new StringContent(rewritten, System.Text.Encoding.UTF8, "application/json");
            response.Content.Dispose();
            response.Content = content;
            return response;
        }

        [System.Text.RegularExpressions.GeneratedRegex("\"device_id\":\\d+")]
        private static partial System.Text.RegularExpressions.Regex DeviceIdField();
    }

    private async Task<long> SettledMailboxAsync(string address)
    {
        var count = await stack.MailboxCountAsync(address);
        for (var i = 0; i < 50 && count != 0; i++)
        {
            await Task.Delay(100);
            count = await stack.MailboxCountAsync(address);
        }
        return count;
    }
}
