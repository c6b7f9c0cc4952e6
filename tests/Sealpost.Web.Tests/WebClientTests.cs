using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using Sealpost.Testing;
using static Microsoft.Playwright.Assertions;

namespace Sealpost.Web.Tests;

/// <summary>The web page in a real Chromium, through HAProxy, against the real services.</summary>
[Collection(WebCollection.Name)]
public sealed class WebClientTests(WebStack stack)
{
    private const string ReadMyKey = """
        async () => {
          const db = await new Promise((ok, fail) => { const r = indexedDB.open("sealpost"); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
          const read = (s, k) => new Promise((ok, fail) => { const r = db.transaction(s).objectStore(s).get(k); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
          const account = await read("meta", "account");
          const key = await read("keys", account.keyId);
          let exported = "exported";
          try { await crypto.subtle.exportKey("pkcs8", key.privateKey); } catch (e) { exported = e.name; }
          let jwk = "exported";
          try { await crypto.subtle.exportKey("jwk", key.privateKey); } catch (e) { jwk = e.name; }
          db.close();
          return { isCryptoKey: key.privateKey instanceof CryptoKey, extractable: key.privateKey.extractable, algorithm: key.privateKey.algorithm.name, exported, jwk };
        }
        """;

    [Fact]
    public async Task The_page_is_served_at_the_root_with_a_strict_content_security_policy()
    {
        using var http = new HttpClient { BaseAddress = stack.BaseUrl };
        using var page = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(' ', page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Matches("<script type=\"module\" src=\"/web/app.js\" integrity=\"sha384-[A-Za-z0-9+/=]+\">", html);
        using var script = await http.GetAsync("/web/app.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("nosniff", string.Join(' ', script.Headers.GetValues("X-Content-Type-Options")));
        using var other = await http.GetAsync("/no-such-page");
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task Outside_a_secure_context_the_page_says_it_needs_one_and_touches_nothing()
    {
        // The same files, as a browser would get them from http://sealpost.test: plain http under a name that is not
        // loopback, where browsers offer no WebCrypto.
        await using var context = await stack.Browser.NewContextAsync();
        await context.RouteAsync("http://sealpost.test/**", async route =>
        {
            var response = await route.FetchAsync(new() { Url = route.Request.Url.Replace("http://sealpost.test/", stack.BaseUrl.ToString(), StringComparison.Ordinal) });
            await route.FulfillAsync(new() { Response = response });
        });
        var page = await context.NewPageAsync();
        await page.GotoAsync("http://sealpost.test/");
        await Expect(page.GetByText("Sealpost needs a secure connection")).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Two_browsers_exchange_messages_live_both_ways_and_what_came_while_one_was_closed_appears_when_it_opens()
    {
        await using var alice = await Person.OpenAsync(stack, "alice");
        await using var bob = await Person.OpenAsync(stack, "bob");
        await alice.ScreenshotAsync("01-welcome");
        await alice.RegisterAsync();
        await bob.RegisterAsync();

        await alice.StartConversationAsync(bob.Username);
        var first = await alice.SendAsync("Hi Bob, it's Alice. Only you can read this.");
        // Bob's page is open: it stores the message and says so with a sealed receipt.
        await Expect(first.Locator("[data-state]")).ToHaveAttributeAsync("data-state", "delivered");

        // Live: bob's page lists the new conversation; opening it shows the message.
        await bob.OpenConversationAsync(alice.Username);
        await bob.ExpectMessageAsync("Hi Bob, it's Alice. Only you can read this.");
        await bob.SendAsync("Hi Alice! Got it.");
        await alice.ExpectMessageAsync("Hi Alice! Got it.");
        await Expect(alice.Messages.Filter(new() { HasText = "Hi Alice! Got it." })).Not.ToHaveClassAsync(new System.Text.RegularExpressions.Regex("unverified|rejected"));
        await alice.SendAsync("A second one, live.");
        await bob.ExpectMessageAsync("A second one, live.");
        await alice.Page.GetByText("Fingerprint and safety number").ClickAsync();
        await Expect(alice.Page.GetByTestId("safety-number")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^(\d{5}\s){11}\d{5}$"));
        await alice.ScreenshotAsync("02-conversation");
        await bob.Page.GetByText("Fingerprint and safety number").ClickAsync();
        Assert.Equal(await alice.Page.GetByTestId("safety-number").TextContentAsync(), await bob.Page.GetByTestId("safety-number").TextContentAsync());

        // Bob closes the page; what alice sends waits in his mailbox, and is acknowledged only once his page stored it.
        await bob.Page.CloseAsync();
        await alice.SendAsync("While you were away (1).");
        var last = await alice.SendAsync("While you were away (2).");
        await Expect(alice.Messages.Locator("[data-state=accepted]")).ToHaveCountAsync(2);
        Assert.Equal(2, await stack.MailboxCountAsync(bob.Username));

        await bob.NewPageAsync();
        await bob.OpenConversationAsync(alice.Username);
        await bob.ExpectMessageAsync("While you were away (1).");
        await bob.ExpectMessageAsync("While you were away (2).");
        await Eventually.HoldsAsync(async () => await stack.MailboxCountAsync(bob.Username) == 0, "bob's page did not acknowledge what it stored");
        await Expect(last.Locator("[data-state]")).ToHaveAttributeAsync("data-state", "delivered");
        await Expect(alice.Messages.Locator("[data-state=delivered]")).ToHaveCountAsync(4);
        await Expect(bob.Messages).ToHaveCountAsync(5);

        // A reload keeps the key and the history (IndexedDB); the private key is a CryptoKey nobody can export.
        var fingerprint = await bob.Page.GetByTestId("my-fingerprint").TextContentAsync();
        await bob.Page.ReloadAsync();
        await Expect(bob.Page.GetByText($"Signed in as {bob.Username}")).ToBeVisibleAsync();
        Assert.Equal(fingerprint, await bob.Page.GetByTestId("my-fingerprint").TextContentAsync());
        await bob.OpenConversationAsync(alice.Username);
        await Expect(bob.Messages).ToHaveCountAsync(5);
        var key = await bob.Page.EvaluateAsync<JsonElement>(ReadMyKey);
        Assert.True(key.GetProperty("isCryptoKey").GetBoolean());
        Assert.False(key.GetProperty("extractable").GetBoolean());
        Assert.Equal("X25519", key.GetProperty("algorithm").GetString());
        Assert.Equal("InvalidAccessError", key.GetProperty("exported").GetString());
        Assert.Equal("InvalidAccessError", key.GetProperty("jwk").GetString());

        // Live again after the reload, both ways.
        await alice.SendAsync("Back to live.");
        await bob.ExpectMessageAsync("Back to live.");
        await bob.SendAsync("Still here after a reload.");
        await alice.ExpectMessageAsync("Still here after a reload.");

        Assert.Empty(alice.Problems);
        Assert.Empty(bob.Problems);
    }

    [Fact]
    public async Task A_browser_and_the_cli_exchange_messages_and_files()
    {
        var (alice, carolCli, carol) = await CliProcess.WithPageAsync(stack);
        await using var page = alice;
        using var cli = carolCli;

        // Browser → CLI: sealed by the page's WebCrypto code, opened and verified by Sealpost.Crypto.
        await alice.StartConversationAsync(carol);
        var sent = await alice.SendAsync("Hello from a browser, carol.");
        await Expect(sent.Locator("[data-state]")).ToHaveAttributeAsync("data-state", "accepted");
        var inbox = JsonDocument.Parse(await carolCli.RunAsync("inbox", "--json", "--wait", "2")).RootElement;
        var received = Assert.Single(inbox.EnumerateArray());
        Assert.Equal("Hello from a browser, carol.", received.GetProperty("text").GetString());
        Assert.Equal(alice.Username, received.GetProperty("peer").GetString());
        Assert.Equal("ok", received.GetProperty("status").GetString());
        // The CLI sends no delivery receipts: the server's word is all the page has.
        await Expect(sent.Locator("[data-state]")).ToHaveAttributeAsync("data-state", "accepted");

        // CLI → browser, live, and a file shown as one.
        await carolCli.RunAsync("send", alice.Username, "Hello from the command line, alice.");
        await alice.ExpectMessageAsync("Hello from the command line, alice.");
        var file = Path.Combine(TestEnvironment.WorkDir, $"minutes-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, "minutes of the meeting");
        await carolCli.RunAsync("send", alice.Username, "--file", file);
        await Expect(alice.Messages.Filter(new() { HasText = "File “" + Path.GetFileName(file) + "”, 22 bytes" })).ToHaveCountAsync(1);

        // Envelope v2 both ways, the certified rotation and key changes: TrustModelTests.
        Assert.Empty(alice.Problems);
    }

    [Fact]
    public async Task On_a_narrow_screen_the_list_and_the_conversation_take_turns_and_sign_out_keeps_the_key()
    {
        await using var dana = await Person.OpenAsync(stack, "dana", new ViewportSize { Width = 390, Height = 780 });
        await using var erin = await Person.OpenAsync(stack, "erin");
        await dana.RegisterAsync();
        await erin.RegisterAsync();
        await erin.StartConversationAsync(dana.Username);
        await erin.SendAsync("Reading this on a phone?");

        var list = dana.Page.GetByRole(AriaRole.Navigation, new() { Name = "Conversations" });
        await Expect(list.GetByRole(AriaRole.Button).Filter(new() { HasText = erin.Username })).ToContainTextAsync("new messages");
        await dana.ScreenshotAsync("04-narrow-list");
        await dana.OpenConversationAsync(erin.Username);
        await Expect(list).ToBeHiddenAsync();
        await dana.ExpectMessageAsync("Reading this on a phone?");
        await dana.SendAsync("Yes, and it fits.");
        await erin.ExpectMessageAsync("Yes, and it fits.");
        await dana.ScreenshotAsync("05-narrow-conversation");
        await dana.Page.GetByRole(AriaRole.Button, new() { Name = "← Conversations" }).ClickAsync();
        await Expect(list).ToBeVisibleAsync();

        // Signing out ends the session; signing in again (password only) finds the same key and history.
        await dana.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(dana.Page.GetByRole(AriaRole.Heading, new() { Name = $"Sign in as {dana.Username}" })).ToBeVisibleAsync();
        await dana.ScreenshotAsync("06-signed-out");
        await dana.Page.GetByLabel("Password").FillAsync(Person.Password);
        await dana.Page.GetByLabel("Password").PressAsync("Enter");
        await dana.OpenConversationAsync(erin.Username);
        await dana.ExpectMessageAsync("Yes, and it fits.");
        Assert.Empty(dana.Problems);
    }
}
