using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Sealpost.Cli;
using Sealpost.Crypto;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Client.Tests;

/// <summary>
/// The security review of 2026-12-07 (H2, H3 and the crashes with them) through the CLI, against the real stack, with
/// the test playing a server that tampers with what it serves (every HTTP answer passes through <see cref="Tamper"/>).
/// Each failed on efb149b.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class TrustModelTests(SealpostStack stack) : IDisposable
{
    private readonly TempHomes _homes = new();

    public void Dispose() => _homes.Dispose();

    private async Task<(CliRunner Cli, string Name)> UserAsync(string prefix, Tamper? tamper = null)
    {
        var cli = _homes.Runner(stack.BaseUrl.ToString());
        if (tamper is not null) cli.HttpHandler = tamper;
        var name = TestEnvironment.UniqueUsername(prefix);
        await cli.ExpectAsync(ExitCodes.Ok, "register", name);
        return (cli, name);
    }

    [Fact]
    public async Task A_server_that_drops_the_identity_key_gets_no_message_and_lookup_trust_and_fingerprint_say_so()
    {
        using var tamper = new Tamper();
        var (alice, _) = await UserAsync("tma", tamper);
        var (_, bob) = await UserAsync("tmb");
        await alice.ExpectAsync(ExitCodes.Ok, "lookup", bob);
        tamper.Rewrite = (path, json) =>
        {
            if (path != $"/v1/accounts/{bob}/devices") return;
            json.AsObject().Remove("identity_key");
            foreach (var device in json["devices"]!.AsArray()) device!.AsObject().Remove("certificate");
        };

        var send = await alice.RunAsync("send", bob, "hi");
        var lookup = await alice.RunAsync("lookup", bob);
        var fingerprint = await alice.RunAsync("fingerprint", bob);
        var trust = await alice.RunAsync("trust", bob);

        Assert.True(send.ExitCode == ExitCodes.KeyChanged, send.ToString());
        Assert.Contains("never falls back to the older envelope", send.Error, StringComparison.Ordinal);
        Assert.Equal(0, await stack.MailboxCountAsync(bob));
        Assert.True(lookup.ExitCode == ExitCodes.KeyChanged, lookup.ToString());
        Assert.Contains("IDENTITY KEY MISSING", lookup.Out, StringComparison.Ordinal);
        Assert.True(fingerprint.ExitCode == ExitCodes.KeyChanged, fingerprint.ToString());
        Assert.Contains("NO IDENTITY KEY", fingerprint.Out, StringComparison.Ordinal);
        Assert.True(trust.ExitCode == ExitCodes.KeyChanged, trust.ToString());
    }

    [Fact]
    public async Task An_identity_swapped_in_at_trust_time_is_refused_and_one_that_keeps_the_device_key_shows_its_safety_number()
    {
        using var tamper = new Tamper();
        var (alice, _) = await UserAsync("tma", tamper);
        var (_, bob) = await UserAsync("tmb");
        var pinned = (string?)JsonNode.Parse((await alice.ExpectAsync(ExitCodes.Ok, "lookup", bob, "--json")).Out)!["identity_key"];
        // The server shows another identity key that certifies bob's real device key (so the device key stays the same):
        // `lookup` crashed here on efb149b (exit 8).
        using var forged = IdentityKey.Generate();
        using var swapped = IdentityKey.Generate();
        ShowIdentity(forged);
        var lookup = await alice.RunAsync("lookup", bob);
        var fingerprint = await alice.RunAsync("fingerprint", bob);
        ShowIdentity(swapped);   // between what the user compared and `trust`
        var trust = await alice.RunAsync("trust", bob);
        var after = JsonNode.Parse((await alice.RunAsync("lookup", bob, "--json")).Out)!;

        Assert.NotNull(pinned);
        Assert.True(lookup.ExitCode == ExitCodes.KeyChanged, lookup.ToString());
        Assert.Contains("KEY CHANGED", lookup.Out, StringComparison.Ordinal);
        Assert.True(fingerprint.ExitCode == ExitCodes.KeyChanged, fingerprint.ToString());
        Assert.Contains("the safety number with it would be", fingerprint.Out, StringComparison.Ordinal);
        Assert.True(trust.ExitCode == ExitCodes.KeyChanged, trust.ToString());
        Assert.Contains("changed since it was last shown", trust.Error, StringComparison.Ordinal);
        Assert.Equal(pinned, (string?)after["identity_key"]);

        void ShowIdentity(IdentityKey identity) => tamper.Rewrite = (path, json) =>
        {
            if (path != $"/v1/accounts/{bob}/devices") return;
            json["identity_key"] = AccountRules.EncodePublicKey(identity.PublicKey);
            foreach (var device in json["devices"]!.AsArray())
            {
                var key = AccountRules.ParsePublicKey((string?)device!["public_key"])!;
                device["certificate"] = AccountRules.EncodePublicKey(DeviceCertificate.Sign(identity,
                    new DeviceKey(bob, (uint)(int)device["device_id"]!, (uint)(int)device["key_id"]!, key)));
            }
        };
    }

    [Fact]
    public async Task A_v2_message_the_server_delivers_again_under_new_ids_is_flagged_not_shown_twice_and_a_held_back_one_says_so()
    {
        // Security review M6, the test playing the server by writing the mailbox itself: the replayed envelope gets a
        // fresh message id and client id; the held-back one a server time an hour after its sealed one.
        var (alice, _) = await UserAsync("tma");
        var (bobCli, bob) = await UserAsync("tmb");
        await alice.ExpectAsync(ExitCodes.Ok, "send", bob, "pay carol 10");
        await alice.ExpectAsync(ExitCodes.Ok, "send", bob, "see you at noon");
        await using (var db = new Npgsql.NpgsqlConnection(stack.MessagesConnectionString))
        {
            await db.OpenAsync();
            // Message ids follow time: the first is the older one.
            await using var delay = new Npgsql.NpgsqlCommand("""
                UPDATE messages SET sent_at = sent_at + interval '1 hour' WHERE recipient = $1 AND id = (SELECT id FROM messages WHERE recipient = $1 ORDER BY id DESC LIMIT 1)
                """, db) { Parameters = { new() { Value = bob } } };
            Assert.Equal(1, await delay.ExecuteNonQueryAsync());
            await using var replay = new Npgsql.NpgsqlCommand("""
                INSERT INTO messages (recipient, id, sender, client_id, body, sent_at)
                SELECT recipient, $2, sender, gen_random_uuid(), body, now() FROM messages WHERE recipient = $1 ORDER BY id LIMIT 1
                """, db) { Parameters = { new() { Value = bob }, new() { Value = Guid.CreateVersion7() } } };
            Assert.Equal(1, await replay.ExecuteNonQueryAsync());
        }

        var inbox = await bobCli.ExpectAsync(ExitCodes.Ok, "inbox");
        var history = await bobCli.ExpectAsync(ExitCodes.Ok, "history", "--json");

        Assert.Contains("the server replayed it", inbox.Error, StringComparison.Ordinal);
        Assert.Single(JsonNode.Parse(history.Out)!.AsArray(), m => (string?)m!["text"] == "pay carol 10");
        Assert.Contains("held back, or the sender's clock is wrong", inbox.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_password_thief_cannot_attach_an_identity_to_an_account_without_one_by_certifying_its_key()
    {
        // Security review H2, as its black-box check: alice registered through the API without an identity key (as the
        // web page did), bob pinned her key, and an attacker with her password certifies her key with an identity of
        // its own. The server refuses that (a first identity comes with a new key), and bob's client would not carry
        // its pin over anyway (DeviceTrustTests).
        var api = new UsersApi(new HttpClient { BaseAddress = stack.BaseUrl });
        var alice = TestEnvironment.UniqueUsername("tmh");
        var aliceKey = X25519KeyPair.Generate().PublicKey.ToArray();
        using (var created = await api.RegisterRawAsync(alice, UsersApi.DefaultPassword, AccountRules.EncodePublicKey(aliceKey)))
            await UsersApi.EnsureAsync(created, global::System.Net.HttpStatusCode.Created);
        var (bobCli, _) = await UserAsync("tmb");
        await bobCli.ExpectAsync(ExitCodes.Ok, "lookup", alice);

        var token = (await api.LoginAsync(alice, UsersApi.DefaultPassword)).AccessToken;
        using var attacker = IdentityKey.Generate();
        var certificate = DeviceCertificate.Sign(attacker, new DeviceKey(alice, 1, 1, aliceKey));
        using var request = new HttpRequestMessage(HttpMethod.Put, "v1/accounts/me/identity")
        {
            Content = JsonContent.Create(new SetIdentityRequest(AccountRules.EncodePublicKey(attacker.PublicKey), AccountRules.EncodePublicKey(certificate), UsersApi.DefaultPassword),
                SealpostJsonContext.Default.SetIdentityRequest),
        };
        request.Headers.Authorization = new("Bearer", token);
        using var answer = await api.Http.SendAsync(request);
        var lookup = await bobCli.RunAsync("lookup", alice);

        Assert.Equal(global::System.Net.HttpStatusCode.BadRequest, answer.StatusCode);
        Assert.Contains("new key", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(lookup.ExitCode == ExitCodes.Ok, lookup.ToString());
        Assert.Contains("Matches the key pinned here", lookup.Out, StringComparison.Ordinal);
    }
}

/// <summary>A server that rewrites the JSON it serves: every answer whose path <see cref="Rewrite"/> cares about.</summary>
public sealed class Tamper : DelegatingHandler
{
    public Tamper() : base(new SocketsHttpHandler()) { }

    public Action<string, JsonNode>? Rewrite { get; set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (Rewrite is not { } rewrite || !response.IsSuccessStatusCode || response.Content.Headers.ContentType?.MediaType != "application/json") return response;
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!;
        rewrite(request.RequestUri!.AbsolutePath, json);
        response.Content = new StringContent(json.ToJsonString(), global::System.Text.Encoding.UTF8, "application/json");
        return response;
    }
}
