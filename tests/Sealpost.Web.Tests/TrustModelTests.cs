using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Sealpost.Crypto;
using Sealpost.Testing;
using static Microsoft.Playwright.Assertions;

namespace Sealpost.Web.Tests;

/// <summary>
/// The page on issue 28's one trust model, in a real Chromium against the real stack: an identity key at registration,
/// envelope v2 only, pinned identities, certified devices, no fallback to v1 (review H2, H3, L8).
/// </summary>
[Collection(WebCollection.Name)]
public sealed class TrustModelTests(WebStack stack)
{
    /// <summary>"SPE" then version 2, in standard base64: how every envelope the page sends starts.</summary>
    private const string V2Prefix = "U1BFAg";

    private static string B64Url(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);

    private async Task<JsonElement> DevicesAsync(string username)
    {
        using var http = new HttpClient { BaseAddress = stack.BaseUrl };
        return await http.GetFromJsonAsync<JsonElement>($"v1/accounts/{username}/devices");
    }

    [Fact]
    public async Task A_page_registers_with_an_identity_key_that_certifies_device_1_and_keeps_it_unexportable()
    {
        await using var alice = await Person.OpenAsync(stack, "alice");
        await alice.RegisterAsync();

        var list = await DevicesAsync(alice.Username);
        var identity = Base64Url.DecodeFromChars(list.GetProperty("identity_key").GetString());
        var device = Assert.Single(list.GetProperty("devices").EnumerateArray());
        Assert.Equal(1, device.GetProperty("device_id").GetInt32());
        var key = new DeviceKey(alice.Username, 1, (uint)device.GetProperty("key_id").GetInt32(), Base64Url.DecodeFromChars(device.GetProperty("public_key").GetString()));
        Assert.True(DeviceCertificate.Verify(identity, key, Base64Url.DecodeFromChars(device.GetProperty("certificate").GetString())), "device 1's certificate does not verify");
        // The page shows the identity fingerprint, the one contacts compare.
        await alice.Page.GetByText("Your key", new() { Exact = true }).ClickAsync();
        await Expect(alice.Page.GetByTestId("my-fingerprint")).ToHaveTextAsync(Fingerprint.Of(identity));

        var stored = await alice.Page.EvaluateAsync<JsonElement>("""
            async () => {
              const db = await new Promise((ok, fail) => { const r = indexedDB.open("sealpost"); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
              const identity = await new Promise((ok, fail) => { const r = db.transaction("meta").objectStore("meta").get("identity"); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
              let exported = "exported";
              try { await crypto.subtle.exportKey("pkcs8", identity.privateKey); } catch (e) { exported = e.name; }
              db.close();
              return { algorithm: identity.privateKey.algorithm.name, extractable: identity.privateKey.extractable, exported };
            }
            """);
        Assert.Equal("Ed25519", stored.GetProperty("algorithm").GetString());
        Assert.False(stored.GetProperty("extractable").GetBoolean());
        Assert.Equal("InvalidAccessError", stored.GetProperty("exported").GetString());
        Assert.Empty(alice.Problems);
    }

    [Fact]
    public async Task A_page_account_and_a_cli_account_exchange_envelopes_v2_both_ways_and_a_certified_rotation_is_not_a_key_change()
    {
        var (alice, carolCli, carol) = await CliProcess.WithPageAsync(stack);
        await using var page = alice;
        using var cli = carolCli;

        // Page → CLI: one envelope v2 per device of carol's, in one send frame; the CLI verifies the page's certificate.
        await alice.StartConversationAsync(carol);
        var sent = await alice.SendAsync("Hello in envelope v2, carol.");
        await Expect(sent.Locator("[data-state]")).ToHaveAttributeAsync("data-state", "accepted");
        var frame = Assert.Single(alice.Sends());
        Assert.False(frame.TryGetProperty("body", out _), "the page sent a body (envelope v1) instead of envelopes");
        var envelope = Assert.Single(frame.GetProperty("envelopes").EnumerateArray());
        Assert.Equal(1, envelope.GetProperty("device").GetInt32());
        Assert.StartsWith(V2Prefix, envelope.GetProperty("body").GetString(), StringComparison.Ordinal);
        var inbox = JsonDocument.Parse(await carolCli.RunAsync("inbox", "--json", "--wait", "2")).RootElement;
        var received = Assert.Single(inbox.EnumerateArray());
        Assert.Equal("Hello in envelope v2, carol.", received.GetProperty("text").GetString());
        Assert.Equal("ok", received.GetProperty("status").GetString());

        // CLI → page: the CLI seals v2 to the page's certified device; the page shows which device sent it.
        await carolCli.RunAsync("send", alice.Username, "Hello back, from the command line.");
        await alice.ExpectMessageAsync("Hello back, from the command line.");
        var message = alice.Messages.Filter(new() { HasText = "Hello back, from the command line." });
        await Expect(message).ToContainTextAsync($"from {carol}'s device 1");
        await Expect(message).Not.ToHaveClassAsync(new System.Text.RegularExpressions.Regex("unverified|rejected"));
        lock (alice.ReceivedFrames)
        {
            var delivered = alice.ReceivedFrames.Select(f => JsonDocument.Parse(f).RootElement).Single(f => f.GetProperty("type").GetString() == "message");
            Assert.StartsWith(V2Prefix, delivered.GetProperty("body").GetString(), StringComparison.Ordinal);
        }

        // Carol rotates her device key: certified by her identity, so no warning, and the page seals to the new key.
        await carolCli.RunAsync("rotate-key");
        await alice.OpenConversationAsync(carol);
        var afterRotation = await alice.SendAsync("Sealed to your new device key.");
        await Expect(afterRotation.Locator("[data-state]")).ToHaveAttributeAsync("data-state", "accepted");
        await Expect(alice.Page.GetByRole(AriaRole.Alert)).ToHaveCountAsync(0);
        inbox = JsonDocument.Parse(await carolCli.RunAsync("inbox", "--json", "--wait", "2")).RootElement;
        received = Assert.Single(inbox.EnumerateArray());
        Assert.Equal("Sealed to your new device key.", received.GetProperty("text").GetString());
        Assert.Equal(2u, received.GetProperty("recipient_key_id").GetUInt32());
        Assert.Empty(alice.Problems);
    }

    [Fact]
    public async Task A_server_that_drops_the_identity_from_a_pinned_contacts_device_list_gets_an_error_shown_and_nothing_is_sent()
    {
        var (alice, carolCli, carol) = await CliProcess.WithPageAsync(stack);
        await using var page = alice;
        using var cli = carolCli;
        await alice.StartConversationAsync(carol);
        await Expect((await alice.SendAsync("Pinning your identity.")).Locator("[data-state]")).ToHaveAttributeAsync("data-state", "accepted");
        await carolCli.RunAsync("inbox", "--json", "--wait", "2");
        Assert.Equal(0, await stack.MailboxCountAsync(carol));

        // The server (or a proxy) now lists carol's devices without her identity key and certificates (review H3).
        await alice.Page.RouteAsync($"**/v1/accounts/{carol}/devices", async route =>
        {
            var response = await route.FetchAsync();
            var list = JsonNode.Parse(await response.TextAsync())!.AsObject();
            list.Remove("identity_key");
            foreach (var device in list["devices"]!.AsArray()) device!.AsObject().Remove("certificate");
            await route.FulfillAsync(new() { Response = response, Body = list.ToJsonString() });
        });
        var sendsBefore = alice.Sends().Count;
        await alice.Compose.FillAsync("This must not leave as envelope v1.");
        await alice.Compose.PressAsync("Enter");
        await Expect(alice.Page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "lacks the identity key you pinned" })).ToBeVisibleAsync();
        await Expect(alice.Messages.Filter(new() { HasText = "This must not leave" })).ToHaveCountAsync(0);
        var entry = alice.Page.GetByRole(AriaRole.Navigation, new() { Name = "Conversations" }).GetByRole(AriaRole.Button).Filter(new() { HasText = carol });
        await Expect(entry).ToContainTextAsync("error");
        await alice.ScreenshotAsync("07-identity-dropped");
        await Task.Delay(1000);
        Assert.Equal(sendsBefore, alice.Sends().Count);
        Assert.Equal(0, await stack.MailboxCountAsync(carol));
    }

    [Fact]
    public async Task A_first_identity_on_a_contact_pinned_without_one_blocks_sending_and_accepting_adopts_exactly_the_identity_shown()
    {
        await using var alice = await Person.OpenAsync(stack, "alice");
        await alice.RegisterAsync();
        var aliceDevice = (await DevicesAsync(alice.Username)).GetProperty("devices")[0];
        var aliceKey = new DeviceRecipient(alice.Username, 1, (uint)aliceDevice.GetProperty("key_id").GetInt32(), Base64Url.DecodeFromChars(aliceDevice.GetProperty("public_key").GetString()));

        // An account from before identity keys (registered through the API, as the page used to), with a long display name.
        var olde = TestEnvironment.UniqueUsername("olde");
        var oldeKey = X25519KeyPair.Generate();
        const string longName = "Wolfgang Amadeus Theophilus Mozart, a rather long display name";
        using (var created = await UsersApi.RetryWhileBusyAsync(() => stack.Api.RegisterRawAsync(olde, UsersApi.DefaultPassword, B64Url(oldeKey.PublicKey), longName)))
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var session = await stack.Api.LoginAsync(olde);
        await using var socket = await ProtocolClient.ConnectAsync(stack.SocketUrl(), session.AccessToken);
        async Task SendRawAsync(string id, string body)
        {
            await socket.Raw.SendTextAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["type"] = "send", ["id"] = id, ["to"] = alice.Username, ["body"] = body }));
            for (var frame = await socket.Raw.NextAsync(); ; frame = await socket.Raw.NextAsync())
            {
                if (frame.Text.Contains("\"accepted\"", StringComparison.Ordinal)) return;
                Assert.DoesNotContain("\"error\"", frame.Text, StringComparison.Ordinal);
            }
        }

        // Its old client sends envelope v1: the page opens it, marked as having no replay protection.
        await SendRawAsync(Guid.NewGuid().ToString(), Convert.ToBase64String(Envelope.Seal(
            new EnvelopeParty(olde, 1, oldeKey.PrivateKey.ToArray()), new EnvelopeRecipient(alice.Username, aliceKey.KeyId, aliceKey.PublicKey.ToArray()), "Hello from an old client."u8)));
        var list = alice.Page.GetByRole(AriaRole.Navigation, new() { Name = "Conversations" });
        var entry = list.GetByRole(AriaRole.Button).Filter(new() { HasText = olde });
        // A long display name never hides the username (review L8).
        await Expect(entry.Locator(".username")).ToHaveTextAsync(olde);
        await Expect(entry.Locator(".username")).ToBeInViewportAsync(new() { Ratio = 1 });
        await alice.OpenConversationAsync(olde);
        await Expect(alice.Messages.Filter(new() { HasText = "Hello from an old client." })).ToContainTextAsync("Old envelope (v1): no replay protection");

        // The page answers with envelope v2 to its device 1, sealed to the key it pinned.
        await Expect((await alice.SendAsync("Hello, old friend.")).Locator("[data-state]")).ToHaveAttributeAsync("data-state", "accepted");
        var v2 = Assert.Single(alice.Sends().Last().GetProperty("envelopes").EnumerateArray());
        Assert.Equal(1, v2.GetProperty("device").GetInt32());
        Assert.StartsWith(V2Prefix, v2.GetProperty("body").GetString(), StringComparison.Ordinal);

        // Someone with olde's password (or the server) gives the account an identity key of their own (review H2); the
        // server takes a first identity only with a new key it certifies (decision 93), so that comes along.
        using var taker = IdentityKey.Generate();
        var takersKey = X25519KeyPair.Generate();
        var certificate = DeviceCertificate.Sign(taker, new DeviceKey(olde, 1, 2, takersKey.PublicKey.ToArray()));
        using (var set = await UsersApi.RetryWhileBusyAsync(() => stack.Api.SendAsync(HttpMethod.Put, "v1/accounts/me/identity", session.AccessToken,
                   JsonSerializer.Serialize(new Dictionary<string, string>
                   {
                       ["identity_key"] = B64Url(taker.PublicKey), ["public_key"] = B64Url(takersKey.PublicKey), ["certificate"] = B64Url(certificate),
                       ["current_password"] = UsersApi.DefaultPassword,
                   }))))
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);

        // A message under that identity arrives in the open conversation, sealed an hour ago: the alert shows at once.
        var sealedId = Guid.NewGuid();
        var underNewIdentity = Convert.ToBase64String(EnvelopeV2.Seal(new DeviceSender(olde, 1, 2, takersKey.PrivateKey.ToArray()), aliceKey,
            new SealedContent(ContentType.Message, sealedId, DateTimeOffset.UtcNow.AddHours(-1), null, "Trust my new identity."u8.ToArray())));
        await SendRawAsync(Guid.NewGuid().ToString(), underNewIdentity);
        var warning = alice.Page.GetByRole(AriaRole.Alert).Filter(new() { HasText = $"{olde}'s key has changed" });
        await Expect(warning).ToBeVisibleAsync();
        var arrived = alice.Messages.Filter(new() { HasText = "Trust my new identity." });
        await Expect(arrived).ToContainTextAsync("Unverified");
        await Expect(arrived).ToContainTextAsync("minutes from the server's time");
        await Expect(alice.Compose).ToBeDisabledAsync();
        Assert.True(await alice.Compose.EvaluateAsync<double>("e => parseFloat(getComputedStyle(e).opacity)") < 0.8, "the blocked message box looks enabled");
        await Expect(entry).ToContainTextAsync("key changed");
        await alice.ScreenshotAsync("08-first-identity");

        // The same sealed message again under a new server id (a replay): shown once, flagged.
        await SendRawAsync(Guid.NewGuid().ToString(), underNewIdentity);
        await Expect(arrived).ToContainTextAsync("arrived again once");
        await Expect(arrived).ToHaveCountAsync(1);

        // Accepting adopts the identity that was shown, whatever the server says when the button is pressed.
        var shown = await alice.Page.GetByTestId("new-fingerprint").TextContentAsync();
        Assert.Equal(Fingerprint.Of(taker.PublicKey), shown);
        using var third = IdentityKey.Generate();
        await alice.Page.RouteAsync($"**/v1/accounts/{olde}/devices", async route =>
        {
            var response = await route.FetchAsync();
            var body = JsonNode.Parse(await response.TextAsync())!.AsObject();
            body["identity_key"] = B64Url(third.PublicKey);
            await route.FulfillAsync(new() { Response = response, Body = body.ToJsonString() });
        });
        await warning.GetByRole(AriaRole.Button, new() { Name = "Accept the new key" }).ClickAsync();
        await Expect(warning).ToHaveCountAsync(0);
        await alice.Page.UnrouteAllAsync();
        await alice.Page.GetByText("Fingerprint and safety number").ClickAsync();
        await Expect(alice.Page.GetByTestId("their-fingerprint")).ToHaveTextAsync(shown!);
        await Expect(alice.SendButton).ToBeEnabledAsync();
        await Expect((await alice.SendAsync("Sealed to your certified device.")).Locator("[data-state]")).ToHaveAttributeAsync("data-state", "accepted");
        await Expect(entry).Not.ToContainTextAsync("key changed");
        Assert.Empty(alice.Problems);
    }
}
