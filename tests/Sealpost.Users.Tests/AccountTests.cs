using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Users.Tests;

[Collection(UsersCollection.Name)]
public sealed class AccountTests(UsersCluster cluster)
{
    private UsersApi Api => cluster.Api;

    [Fact]
    public async Task Register_then_anyone_reads_the_public_record()
    {
        var username = TestEnvironment.UniqueUsername("reg");
        var key = await Api.RegisterAsync(username, displayName: "Ada O'Brien");

        var record = await Api.LookupAsync(username);

        Assert.NotNull(record);
        Assert.Equal(username, record.Username);
        Assert.Equal("Ada O'Brien", record.DisplayName);
        Assert.Equal(AccountRules.EncodePublicKey(key), record.PublicKey);
        Assert.Equal(1, record.KeyId);
        Assert.False(string.IsNullOrWhiteSpace(record.Fingerprint));
    }

    [Fact]
    public async Task Usernames_are_case_insensitive_and_stored_lower_case()
    {
        var username = TestEnvironment.UniqueUsername("case");
        await Api.RegisterAsync(username.ToUpperInvariant());

        Assert.Equal(username, (await Api.LookupAsync(username.ToUpperInvariant()))!.Username);
        using var again = await Api.RegisterRawAsync(username, UsersApi.DefaultPassword, AccountRules.EncodePublicKey(UsersApi.NewPublicKey()));
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("urn:sealpost:problem:username-taken", (await ProblemAsync(again)).GetProperty("type").GetString());
        await Api.LoginAsync(username.ToUpperInvariant());
    }

    [Fact]
    public async Task Unknown_user_and_wrong_password_get_the_same_answer()
    {
        var username = TestEnvironment.UniqueUsername("login");
        await Api.RegisterAsync(username);

        using var wrongPassword = await Api.LoginRawAsync(username, "not the password");
        using var unknownUser = await Api.LoginRawAsync(TestEnvironment.UniqueUsername("nobody"), "not the password");

        Assert.Equal(HttpStatusCode.Unauthorized, wrongPassword.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unknownUser.StatusCode);
        var (a, b) = (await ProblemAsync(wrongPassword), await ProblemAsync(unknownUser));
        Assert.Equal("urn:sealpost:problem:invalid-credentials", a.GetProperty("type").GetString());
        Assert.Equal(a.GetProperty("type").GetString(), b.GetProperty("type").GetString());
        Assert.Equal(a.GetProperty("title").GetString(), b.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_token_issued_by_one_instance_is_accepted_by_the_other()
    {
        var username = TestEnvironment.UniqueUsername("two");
        await Api.RegisterAsync(username);
        var session = await new UsersApi(cluster.Instances[0].Http).LoginAsync(username);

        using var onOther = await new UsersApi(cluster.Instances[1].Http).SendAsync(HttpMethod.Get, "v1/accounts/me", session.AccessToken);

        Assert.Equal(HttpStatusCode.OK, onOther.StatusCode);
        var own = await onOther.Content.ReadFromJsonAsync(SealpostJsonContext.Default.OwnAccount);
        Assert.Equal(username, own!.Username);
    }

    [Fact]
    public async Task Both_instances_publish_the_same_jwks()
    {
        var first = await cluster.Instances[0].Http.GetFromJsonAsync("/.well-known/jwks.json", SealpostJsonContext.Default.JsonWebKeySetDocument);
        var second = await cluster.Instances[1].Http.GetFromJsonAsync("/.well-known/jwks.json", SealpostJsonContext.Default.JsonWebKeySetDocument);

        var key = Assert.Single(first!.Keys);
        Assert.Equal("ES256", key.Alg);
        Assert.Equal("P-256", key.Crv);
        Assert.Equal(key, Assert.Single(second!.Keys));
    }

    [Fact]
    public async Task Update_display_name_and_change_password_which_ends_sessions()
    {
        var user = await Api.NewUserAsync("upd");

        using var renamed = await Api.SendAsync(HttpMethod.Patch, "v1/accounts/me", user.AccessToken, """{"display_name":"Robert'); DROP TABLE accounts;--"}""");
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        Assert.Equal("Robert'); DROP TABLE accounts;--", (await Api.LookupAsync(user.Username))!.DisplayName);

        using var noCurrent = await Api.SendAsync(HttpMethod.Patch, "v1/accounts/me", user.AccessToken, """{"password":"a new password"}""");
        Assert.Equal("current_password", FieldOf(await ProblemAsync(noCurrent)));
        using var wrongCurrent = await Api.SendAsync(HttpMethod.Patch, "v1/accounts/me", user.AccessToken,
            """{"password":"a new password","current_password":"wrong wrong"}""");
        Assert.Equal(HttpStatusCode.Forbidden, wrongCurrent.StatusCode);

        using var changed = await Api.SendAsync(HttpMethod.Patch, "v1/accounts/me", user.AccessToken,
            $$"""{"password":"a new password","current_password":"{{user.Password}}"}""");
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);

        using var oldToken = await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", user.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, oldToken.StatusCode);
        using var oldRefresh = await Api.RefreshRawAsync(user.Session.RefreshToken);
        Assert.Equal(HttpStatusCode.Unauthorized, oldRefresh.StatusCode);
        using var oldPassword = await Api.LoginRawAsync(user.Username, user.Password);
        Assert.Equal(HttpStatusCode.Unauthorized, oldPassword.StatusCode);
        await Api.LoginAsync(user.Username, "a new password");
    }

    [Fact]
    public async Task Rotating_the_key_increases_the_key_id_and_keeps_the_old_key_readable()
    {
        var user = await Api.NewUserAsync("rot");
        var newKey = AccountRules.EncodePublicKey(UsersApi.NewPublicKey());

        using var rotated = await Api.RotateKeyRawAsync(user.AccessToken, newKey, user.Password);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        using var retried = await Api.RotateKeyRawAsync(user.AccessToken, newKey, user.Password);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);

        var record = (await Api.LookupAsync(user.Username))!;
        Assert.Equal(2, record.KeyId);
        Assert.Equal(newKey, record.PublicKey);
        var old = await Api.Http.GetFromJsonAsync($"v1/accounts/{user.Username}/keys/1", SealpostJsonContext.Default.PublicAccount);
        Assert.Equal(AccountRules.EncodePublicKey(user.PublicKey), old!.PublicKey);
        using var me = await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", user.AccessToken);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task A_session_ends_ninety_days_after_its_login_however_often_it_is_refreshed()
    {
        var user = await Api.NewUserAsync("old");
        using var fresh = await Api.RefreshRawAsync(user.Session.RefreshToken);
        var renewed = (await fresh.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse))!;
        Assert.True(renewed.RefreshExpiresAt <= DateTimeOffset.UtcNow.AddDays(90));

        // The login, moved 91 days into the past (Tokens:SessionMaxDays is 90).
        Assert.Equal(1, await Db.CountAsync(cluster, """
            WITH moved AS (UPDATE sessions SET created_at = now() - interval '91 days'
                           WHERE account_id = (SELECT id FROM accounts WHERE username = $1) RETURNING 1)
            SELECT count(*) FROM moved
            """, user.Username));
        using var late = await Api.RefreshRawAsync(renewed.RefreshToken);
        Assert.Equal(HttpStatusCode.Unauthorized, late.StatusCode);
    }

    [Fact]
    public async Task Refresh_rotates_the_token_and_a_replayed_one_ends_the_session()
    {
        var user = await Api.NewUserAsync("ref");

        using var first = await Api.RefreshRawAsync(user.Session.RefreshToken);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var renewed = (await first.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse))!;
        Assert.NotEqual(user.Session.RefreshToken, renewed.RefreshToken);

        using var replay = await Api.RefreshRawAsync(user.Session.RefreshToken);
        Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
        using var afterReplay = await Api.RefreshRawAsync(renewed.RefreshToken);
        Assert.Equal(HttpStatusCode.Unauthorized, afterReplay.StatusCode);
        using var me = await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", renewed.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
    }

    [Fact]
    public async Task Logout_ends_the_session_but_not_others()
    {
        var user = await Api.NewUserAsync("out");
        var other = await Api.LoginAsync(user.Username);

        using var logout = await Api.SendAsync(HttpMethod.Delete, "v1/sessions/current", user.AccessToken);
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

        using var ended = await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", user.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, ended.StatusCode);
        using var live = await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", other.AccessToken);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task Delete_needs_the_password_ends_sessions_and_keeps_the_name_taken()
    {
        var user = await Api.NewUserAsync("del");

        using var wrong = await Api.SendAsync(HttpMethod.Delete, "v1/accounts/me", user.AccessToken, """{"current_password":"not it at all"}""");
        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        using var deleted = await Api.SendAsync(HttpMethod.Delete, "v1/accounts/me", user.AccessToken, $$"""{"current_password":"{{user.Password}}"}""");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        Assert.Null(await Api.LookupAsync(user.Username));
        using var me = await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", user.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        using var login = await Api.LoginRawAsync(user.Username, user.Password);
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
        using var reuse = await Api.RegisterRawAsync(user.Username, UsersApi.DefaultPassword, AccountRules.EncodePublicKey(UsersApi.NewPublicKey()));
        Assert.Equal(HttpStatusCode.Conflict, reuse.StatusCode);
    }

    [Fact]
    public async Task Many_registrations_of_one_name_at_once_make_exactly_one_account()
    {
        var username = TestEnvironment.UniqueUsername("race");
        var attempts = Enumerable.Range(0, 24).Select(i =>
            new UsersApi(cluster.Instances[i % 2].Http).RegisterRawAsync(username, UsersApi.DefaultPassword, AccountRules.EncodePublicKey(UsersApi.NewPublicKey())));

        var responses = await Task.WhenAll(attempts);

        // Every other attempt is refused: the name is taken (409), or, on a machine slow enough that an attempt waited
        // longer than PasswordWork:MaxWait for a free hashing slot, the server was busy (503, Retry-After). The first
        // hashes on each instance never wait, so several attempts always reach the insert together.
        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        var conflicts = responses.Count(r => r.StatusCode == HttpStatusCode.Conflict);
        Assert.Equal(23, conflicts + responses.Count(r => r.StatusCode == HttpStatusCode.ServiceUnavailable && r.Headers.RetryAfter is not null));
        Assert.True(conflicts >= 1, $"only {conflicts} attempts reached the insert");
        Assert.Equal(1, await Db.CountAsync(cluster, "SELECT count(*) FROM accounts WHERE username = $1", username));
        foreach (var response in responses) response.Dispose();
    }

    [Fact]
    public async Task Passwords_are_stored_as_argon2id_with_their_cost()
    {
        var username = TestEnvironment.UniqueUsername("hash");
        await Api.RegisterAsync(username);

        Assert.Equal(1, await Db.CountAsync(cluster,
            "SELECT count(*) FROM accounts WHERE username = $1 AND password_hash LIKE '$argon2id$v=19$m=19456,t=2,p=1$%'", username));
    }

    [Fact]
    public async Task Service_publishes_openapi_health_and_readiness()
    {
        var http = cluster.Instances[1].Http;
        using var openApi = await http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, openApi.StatusCode);
        var openApiDocument = await openApi.Content.ReadFromJsonAsync<JsonElement>();
        var document = openApiDocument.GetProperty("paths");
        Assert.True(document.TryGetProperty("/v1/accounts/{username}", out _));
        // The token routes declare the bearer scheme and its 401; every route declares its problem-details errors.
        var me = document.GetProperty("/v1/accounts/me").GetProperty("get");
        Assert.True(me.GetProperty("security")[0].TryGetProperty("bearer", out _));
        Assert.True(me.GetProperty("responses").TryGetProperty("401", out _));
        var lookup = document.GetProperty("/v1/accounts/{username}").GetProperty("get");
        Assert.False(lookup.TryGetProperty("security", out _));
        Assert.True(lookup.GetProperty("responses").GetProperty("default").GetProperty("content").TryGetProperty("application/problem+json", out _));
        // key_id is an integer, not integer-or-string.
        var record = openApiDocument.GetProperty("components").GetProperty("schemas").GetProperty("PublicAccount");
        Assert.Equal("integer", record.GetProperty("properties").GetProperty("key_id").GetProperty("type").GetString());
        Assert.Equal("ok", await http.GetStringAsync("/healthz"));
        Assert.Equal("ready", await http.GetStringAsync("/readyz"));
    }

    [Fact]
    public async Task Instances_starting_together_on_a_new_database_apply_each_migration_once()
    {
        await using var fresh = UsersCluster.Create(3);
        await fresh.InitializeAsync();

        Assert.Equal(1, await Db.CountAsync(fresh, "SELECT count(*) FROM schema_migrations WHERE version = 1"));
        await fresh.Api.NewUserAsync("mig");
    }

    internal static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>The one field a validation problem names.</summary>
    internal static string FieldOf(JsonElement problem)
    {
        Assert.Equal("urn:sealpost:problem:validation", problem.GetProperty("type").GetString());
        return Assert.Single(problem.GetProperty("errors").EnumerateObject()).Name;
    }
}
