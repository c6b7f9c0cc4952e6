using System.Net;
using System.Text;
using System.Text.Json;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Users.Tests;

/// <summary>
/// Hostile input on every field and route: each gets a precise 4xx problem naming the field, the service stays up,
/// and the stored accounts are unchanged.
/// </summary>
[Collection(UsersCollection.Name)]
public sealed class HostileInputTests(UsersCluster cluster)
{
    private static readonly string[] Naughty = JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "blns.json")))!;

    private static readonly string[] Injections =
    [
        "' OR 1=1 --", "'; DROP TABLE accounts; --", "admin'--", "\" OR \"\"=\"", "1; SELECT pg_sleep(10)", "$1", "%' AND '%'='",
        "\\'; TRUNCATE sessions; --", "robert'); DELETE FROM accounts WHERE ('1'='1",
    ];

    private static readonly string ValidKey = AccountRules.EncodePublicKey(UsersApi.NewPublicKey());

    private UsersApi Api => cluster.Api;

    public static TheoryData<string> BadUsernames() =>
    [
        "", "ab", new string('a', 33), "alice bob", "alice-bob", "álice", "аlice" /* Cyrillic a */, "alice\u200b", "alice\n", "alice\0",
        "ＡＬＩＣＥ", "../etc/passwd", "' OR 1=1 --", "'; DROP TABLE accounts; --", new string('x', 10_000),
    ];

    [Theory]
    [MemberData(nameof(BadUsernames))]
    public async Task Register_with_a_bad_username_names_the_field(string username)
    {
        var before = await Db.SnapshotAsync(cluster);
        using var response = await Api.RegisterRawAsync(username, UsersApi.DefaultPassword, ValidKey);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("username", AccountTests.FieldOf(await AccountTests.ProblemAsync(response)));
        Assert.Equal(before, await Db.SnapshotAsync(cluster));
    }

    public static TheoryData<string> BadKeys() =>
    [
        "", "not base64 at all!", "AAAA", AccountRules.EncodePublicKey(new byte[31]), AccountRules.EncodePublicKey(new byte[33]),
        AccountRules.EncodePublicKey(new byte[64]), AccountRules.EncodePublicKey(new byte[32]) /* all-zero: small order */,
        Convert.ToBase64String(Enumerable.Repeat((byte)0xfb, 32).ToArray()) /* '+' and '/': base64, not base64url */,
        "' OR 1=1 --", new string('A', 10_000),
    ];

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Register_with_a_bad_public_key_names_the_field(string key)
    {
        var before = await Db.SnapshotAsync(cluster);
        using var response = await Api.RegisterRawAsync(TestEnvironment.UniqueUsername("key"), UsersApi.DefaultPassword, key);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("public_key", AccountTests.FieldOf(await AccountTests.ProblemAsync(response)));
        Assert.Equal(before, await Db.SnapshotAsync(cluster));
    }

    [Theory]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("1234567")]
    public async Task Register_with_a_bad_password_names_the_field(string password)
    {
        using var response = await Api.RegisterRawAsync(TestEnvironment.UniqueUsername("pw"), password, ValidKey);

        Assert.Equal("password", AccountTests.FieldOf(await AccountTests.ProblemAsync(response)));
        using var tooLong = await Api.RegisterRawAsync(TestEnvironment.UniqueUsername("pw"), new string('p', 257), ValidKey);
        Assert.Equal("password", AccountTests.FieldOf(await AccountTests.ProblemAsync(tooLong)));
    }

    [Fact]
    public async Task Every_naughty_string_as_a_username_or_key_is_refused_cleanly()
    {
        var before = await Db.SnapshotAsync(cluster);
        foreach (var naughty in Naughty.Concat(Injections))
        {
            if (AccountRules.NormalizeUsername(naughty) is null && naughty.Length > 0)
            {
                using var response = await Api.RegisterRawAsync(naughty, UsersApi.DefaultPassword, ValidKey);
                Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"username {Show(naughty)}: {(int)response.StatusCode}");
                Assert.Equal("username", AccountTests.FieldOf(await AccountTests.ProblemAsync(response)));
                // "." and ".." are dot segments that HttpClient resolves away, so they never reach the route.
                if (naughty.Trim('.').Length > 0)
                {
                    using var lookup = await Api.Http.GetAsync("v1/accounts/" + Uri.EscapeDataString(naughty));
                    Assert.True(lookup.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"lookup {Show(naughty)}: {(int)lookup.StatusCode}");
                }
            }
            using var key = await Api.RegisterRawAsync(TestEnvironment.UniqueUsername("k"), UsersApi.DefaultPassword, naughty);
            Assert.True(key.StatusCode == HttpStatusCode.BadRequest, $"key {Show(naughty)}: {(int)key.StatusCode}");
        }
        Assert.Equal(before, await Db.SnapshotAsync(cluster));
        Assert.Equal("ready", await Api.Http.GetStringAsync("/readyz"));
    }

    [Fact]
    public async Task Naughty_display_names_are_stored_exactly_or_refused_with_the_field_named()
    {
        var user = await Api.NewUserAsync("nice");
        var stored = 0;
        foreach (var naughty in Naughty.Concat(Injections))
        {
            using var response = await Api.SendAsync(HttpMethod.Patch, "v1/accounts/me", user.AccessToken,
                JsonSerializer.Serialize(new UpdateAccountRequest(naughty, null, null), SealpostJsonContext.Default.UpdateAccountRequest));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var expected = naughty.Length == 0 ? null : naughty;
                Assert.Equal(expected, (await Api.LookupAsync(user.Username))!.DisplayName);
                stored++;
            }
            else
            {
                Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"display name {Show(naughty)}: {(int)response.StatusCode}");
                Assert.Equal("display_name", AccountTests.FieldOf(await AccountTests.ProblemAsync(response)));
            }
        }
        Assert.True(stored > Naughty.Length / 2, $"only {stored} of {Naughty.Length} naughty strings were storable display names");
    }

    [Fact]
    public async Task Injection_passwords_at_login_are_just_wrong_passwords()
    {
        // Fewer attempts per account than the throttle allows, so each answer is about the password itself.
        foreach (var attempts in Injections.Chunk(4))
        {
            var user = await Api.NewUserAsync("inj");
            foreach (var attempt in attempts)
            {
                using var response = await Api.LoginRawAsync(user.Username, attempt);
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                using var asName = await Api.LoginRawAsync(attempt, attempt);
                Assert.Equal(HttpStatusCode.Unauthorized, asName.StatusCode);
            }
            await Api.LoginAsync(user.Username);
        }
    }

    public static TheoryData<string, string, string> MalformedBodies() => new()
    {
        { "v1/accounts", "{", "body" },
        { "v1/accounts", "not json", "body" },
        { "v1/accounts", "[]", "body" },
        { "v1/accounts", "null", "body" },
        { "v1/accounts", "\"a string\"", "body" },
        { "v1/accounts", """{"username": 42, "password": "x", "public_key": "y"}""", "username" },
        { "v1/accounts", """{"username": "abc", "password": ["x"], "public_key": "y"}""", "password" },
        { "v1/accounts", """{"username": "abc", "password": "longenough", "public_key": {"x": 1}}""", "public_key" },
        { "v1/accounts", """{"username": "abc",}""", "body" },
        { "v1/sessions", "{", "body" },
        { "v1/sessions", """{"username": true}""", "username" },
        { "v1/sessions", """{}""", "username" },
        { "v1/sessions/refresh", """{"refresh_token": 1}""", "refresh_token" },
        { "v1/sessions/refresh", """{}""", "refresh_token" },
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task Malformed_json_gets_a_problem_naming_the_field(string path, string body, string field)
    {
        using var response = await Api.SendAsync(HttpMethod.Post, path, json: body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await AccountTests.ProblemAsync(response);
        Assert.Contains(field, problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
    }

    [Theory]
    [InlineData("v1/accounts")]
    [InlineData("v1/sessions")]
    public async Task Wrong_content_type_is_415_and_an_oversized_body_is_413(string path)
    {
        using var text = await Api.SendAsync(HttpMethod.Post, path, json: """{"username":"abc"}""", contentType: "text/plain");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
        Assert.Equal("urn:sealpost:problem:unsupported-media-type", (await AccountTests.ProblemAsync(text)).GetProperty("type").GetString());

        var huge = "{\"username\":\"" + new string('a', 64 * 1024) + "\"}";
        using var oversized = await Api.SendAsync(HttpMethod.Post, path, json: huge);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, oversized.StatusCode);
        Assert.Equal("ok", await Api.Http.GetStringAsync("/healthz"));
    }

    public static TheoryData<string?> BadTokens() =>
    [
        null, "", "garbage", "a.b.c", "' OR 1=1 --",
        // alg "none" with a valid-looking payload
        B64("""{"alg":"none","typ":"JWT"}""") + "." + B64("""{"sub":"admin","aud":"sealpost","iss":"sealpost-users","exp":4102444800}""") + ".",
        // HS256 signed with the public key as a secret, the classic algorithm confusion
        B64("""{"alg":"HS256","typ":"JWT"}""") + "." + B64("""{"sub":"admin","aud":"sealpost","iss":"sealpost-users","exp":4102444800}""") + ".c2ln",
        new string('a', 8000),
    ];

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Missing_or_forged_tokens_get_401_problems(string? token)
    {
        foreach (var (method, path) in new[] { (HttpMethod.Get, "v1/accounts/me"), (HttpMethod.Patch, "v1/accounts/me"), (HttpMethod.Put, "v1/accounts/me/key"), (HttpMethod.Delete, "v1/sessions/current") })
        {
            using var response = await Api.SendAsync(method, path, token, method == HttpMethod.Get ? null : "{}");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("urn:sealpost:problem:unauthorized", (await AccountTests.ProblemAsync(response)).GetProperty("type").GetString());
        }
    }

    [Fact]
    public async Task A_token_with_a_tampered_payload_is_refused()
    {
        var user = await Api.NewUserAsync("tamper");
        var parts = user.AccessToken.Split('.');
        var claims = Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1])).Replace(user.Username, "admin", StringComparison.Ordinal);
        var forged = parts[0] + "." + B64(claims) + "." + parts[2];

        using var response = await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", forged);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Rotating_to_a_bad_key_names_the_field_and_keeps_the_old_key()
    {
        var user = await Api.NewUserAsync("badrot");
        foreach (var bad in new[] { "\"\"", "\"AAAA\"", "null", "12", $"\"{AccountRules.EncodePublicKey(new byte[32])}\"" })
        {
            using var response = await Api.SendAsync(HttpMethod.Put, "v1/accounts/me/key", user.AccessToken, $$"""{"public_key":{{bad}},"current_password":"{{user.Password}}"}""");
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("public_key", AccountTests.FieldOf(await AccountTests.ProblemAsync(response)));
        }
        var record = (await Api.LookupAsync(user.Username))!;
        Assert.Equal(1, record.KeyId);
        Assert.Equal(AccountRules.EncodePublicKey(user.PublicKey), record.PublicKey);
    }

    private static string B64(string json) => System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    private static string Show(string s) => JsonSerializer.Serialize(s.Length > 40 ? s[..40] + "…" : s);
}
