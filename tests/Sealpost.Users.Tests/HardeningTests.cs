using System.Net;
using System.Net.Http.Json;
using Sealpost.Protocol;
using Sealpost.Testing;
using Xunit.Abstractions;

namespace Sealpost.Users.Tests;

[Collection(UsersCollection.Name)]
public sealed class HardeningTests(UsersCluster cluster, ITestOutputHelper output)
{
    private UsersApi Api => cluster.Api;

    [Fact]
    public async Task Token_answers_are_never_stored_and_no_answer_may_be_sniffed()
    {
        var user = await Api.NewUserAsync("hdr");
        using var login = await Api.LoginRawAsync(user.Username, user.Password);
        var session = (await login.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse))!;
        using var refresh = await Api.SendAsync(HttpMethod.Post, "v1/sessions/refresh", json: $$"""{"refresh_token":"{{session.RefreshToken}}"}""");
        using var me = await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", session.AccessToken);
        using var problem = await Api.Http.GetAsync("v1/accounts/no_such_user_at_all");

        foreach (var answer in new[] { login, refresh, me })
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.True(answer.Headers.CacheControl?.NoStore, $"{answer.RequestMessage!.RequestUri} has no Cache-Control: no-store");
        }
        foreach (var answer in new[] { login, refresh, me, problem })
            Assert.Equal(["nosniff"], answer.Headers.GetValues("X-Content-Type-Options"));
    }

    [Fact]
    public async Task Security_events_are_logged_with_the_account_and_never_the_secret()
    {
        var instance = cluster.Instances[0];
        var user = await Api.NewUserAsync("audit");
        var second = await Api.LoginAsync(user.Username);
        const string wrongGuess = "wrong guess 7f3a";
        const string newPassword = "a brand new password 9c1e";

        using (await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", user.AccessToken + "x")) { }
        using (await Api.SendAsync(HttpMethod.Patch, "v1/accounts/me", user.AccessToken, $$"""{"password":"{{newPassword}}","current_password":"{{wrongGuess}}"}""")) { }
        using (var rotated = await Api.RotateKeyRawAsync(user.AccessToken, AccountRules.EncodePublicKey(UsersApi.NewPublicKey()), user.Password))
            Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        using (var logout = await Api.SendAsync(HttpMethod.Delete, "v1/sessions/current", user.AccessToken))
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        var third = await Api.LoginAsync(user.Username);
        using (var changed = await Api.SendAsync(HttpMethod.Patch, "v1/accounts/me", third.AccessToken, $$"""{"password":"{{newPassword}}","current_password":"{{user.Password}}"}"""))
            Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var fourth = await Api.LoginAsync(user.Username, newPassword);
        using (var deleted = await Api.SendAsync(HttpMethod.Delete, "v1/accounts/me", fourth.AccessToken, $$"""{"current_password":"{{newPassword}}"}"""))
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        string[] events =
        [
            "Bearer authentication failed for GET /v1/accounts/me",
            $"Wrong current password for {user.Username} (password change)",
            $"Key rotated for {user.Username} to key id 2",
            $"Logout of {user.Username}",
            $"Password changed for {user.Username}",
            $"Account {user.Username} deleted",
        ];
        await Eventually.HoldsAsync(() => Task.FromResult(events.All(e => instance.RecentOutput.Contains(e, StringComparison.Ordinal))),
            "missing: " + string.Join("; ", events.Where(e => !instance.RecentOutput.Contains(e, StringComparison.Ordinal))));
        var log = instance.RecentOutput;
        foreach (var secret in new[] { user.Password, wrongGuess, newPassword, user.AccessToken, second.AccessToken, third.AccessToken, third.RefreshToken, fourth.AccessToken })
            Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
        output.WriteLine(string.Join('\n', log.Split('\n').Where(l => events.Any(e => l.Contains(e.Split(' ')[0], StringComparison.Ordinal)))));
    }

    [Fact]
    public async Task The_signing_key_is_created_0600_in_a_folder_created_0700()
    {
        if (OperatingSystem.IsWindows()) return;
        var folder = Path.Combine(TestEnvironment.WorkDir, "fresh-" + Guid.NewGuid().ToString("N")[..8], "keys");
        var path = Path.Combine(folder, "token-signing.pem");
        await using (var instance = await ServiceProcess.StartAsync("Sealpost.Users", new Dictionary<string, string>(cluster.Settings()) { ["Tokens:SigningKeyPath"] = path }))
        {
            // The key is made when first needed.
            Assert.Contains("\"ES256\"", await instance.Http.GetStringAsync("/.well-known/jwks.json"), StringComparison.Ordinal);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal([path], Directory.GetFiles(folder));
    }

    /// <summary>
    /// The service limits registrations per client address itself, in the database all instances share, so a request
    /// that reaches an instance without HAProxy's limit (a spelling HAProxy once missed, or the instance's own port) is
    /// refused too, before any hash (security review H1).
    /// </summary>
    [Fact]
    public async Task Registrations_are_limited_per_client_address_by_the_service_itself()
    {
        await using var limited = await ServiceProcess.StartAsync("Sealpost.Users", new Dictionary<string, string>(cluster.Settings())
        {
            ["Registrations:PerAddressPerHour"] = "2",
        });
        var hammering = new UsersApi(UsersApi.ClientFrom(limited.BaseAddress, IPAddress.Parse("127.0.2.1")));
        var elsewhere = new UsersApi(UsersApi.ClientFrom(limited.BaseAddress, IPAddress.Parse("127.0.2.2")));
        // Refused input costs no hash and is not counted.
        using (var bad = await hammering.RegisterRawAsync(TestEnvironment.UniqueUsername("reg"), "short", AccountRules.EncodePublicKey(UsersApi.NewPublicKey())))
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        await hammering.RegisterAsync(TestEnvironment.UniqueUsername("reg"));
        await hammering.RegisterAsync(TestEnvironment.UniqueUsername("reg"));
        var third = TestEnvironment.UniqueUsername("reg");
        using var refused = await hammering.RegisterRawAsync(third, UsersApi.DefaultPassword, AccountRules.EncodePublicKey(UsersApi.NewPublicKey()));

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("urn:sealpost:problem:rate-limited", (await AccountTests.ProblemAsync(refused)).GetProperty("type").GetString());
        var wait = refused.Headers.RetryAfter?.Delta;
        Assert.True(wait > TimeSpan.FromMinutes(50) && wait <= TimeSpan.FromHours(1), $"Retry-After {wait}");
        Assert.Null(await Api.LookupAsync(third));
        await elsewhere.RegisterAsync(TestEnvironment.UniqueUsername("reg"));
    }

    [Fact]
    public async Task Input_that_fails_validation_or_names_a_taken_account_never_reaches_the_hashing_slots()
    {
        // One hashing slot and no queue: two hashes at once already make a 503.
        await using var narrow = await ServiceProcess.StartAsync("Sealpost.Users", new Dictionary<string, string>(cluster.Settings())
        {
            ["PasswordWork:MaxConcurrent"] = "1", ["PasswordWork:MaxQueued"] = "0", ["PasswordWork:MaxWait"] = "00:00:00",
        });
        var api = new UsersApi(narrow.Http);
        var taken = TestEnvironment.UniqueUsername("taken");
        await api.RegisterAsync(taken);
        var key = AccountRules.EncodePublicKey(UsersApi.NewPublicKey());

        var cheap = await Task.WhenAll(Enumerable.Range(0, 16).SelectMany(i => new[]
        {
            api.LoginRawAsync("not a valid name!", "long enough password"),
            api.LoginRawAsync(taken, "short"),
            api.RegisterRawAsync(taken, "long enough password", key),
            api.RegisterRawAsync(TestEnvironment.UniqueUsername("bad"), "short", key),
        }));
        var costly = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => api.LoginRawAsync(TestEnvironment.UniqueUsername("nobody"), "long enough password")));

        // Short passwords for a real name still count as guesses, so some of those are throttled (429): never busy.
        foreach (var r in cheap)
            Assert.True(r.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Conflict or HttpStatusCode.BadRequest or HttpStatusCode.TooManyRequests,
                $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}\n{narrow.RecentOutput}");
        var busy = costly.Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.NotEmpty(busy);
        Assert.All(costly, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.ServiceUnavailable }));
        Assert.Equal("urn:sealpost:problem:busy", (await AccountTests.ProblemAsync(busy[0])).GetProperty("type").GetString());
        Assert.Equal(TimeSpan.FromSeconds(1), busy[0].Headers.RetryAfter?.Delta);
        Assert.Equal("ok", await narrow.Http.GetStringAsync("/healthz"));
        output.WriteLine($"16 parallel logins for unknown names with one slot and no queue: {costly.Length - busy.Count} checked (401), {busy.Count} refused busy (503)");
        foreach (var response in cheap.Concat(costly)) response.Dispose();
    }
}
