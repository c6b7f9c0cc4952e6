using System.Net;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Users.Tests;

/// <summary>
/// Every password check goes through one throttle that reserves the attempt before any work. Requests come straight to
/// an instance, so X-Forwarded-For (trusted from loopback, as from HAProxy) gives each test a client address of its own.
/// </summary>
[Collection(UsersCollection.Name)]
public sealed class PasswordGuessingTests(UsersCluster cluster)
{
    [Fact]
    public async Task Parallel_guesses_at_one_name_are_reserved_one_by_one_so_only_the_free_ones_are_checked()
    {
        var username = TestEnvironment.UniqueUsername("par");
        await cluster.Api.RegisterAsync(username);
        var address = NewAddress();

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var response = await SendAsync(cluster.Instances[i % 2], HttpMethod.Post, "v1/sessions", address, null,
                $$"""{"username":"{{username}}","password":"guess number {{i}}"}""");
            return response.StatusCode;
        }));

        // Five free failures, and the sixth that starts the wait; every other guess was refused unchecked.
        Assert.InRange(answers.Count(s => s == HttpStatusCode.Unauthorized), 1, 6);
        Assert.All(answers, s => Assert.Contains(s, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests, HttpStatusCode.ServiceUnavailable }));
        Assert.Contains(HttpStatusCode.TooManyRequests, answers);
    }

    [Fact]
    public async Task Wrong_current_passwords_are_throttled_like_logins_and_then_even_the_right_one_waits()
    {
        var user = await cluster.Api.NewUserAsync("cur");
        var address = NewAddress();
        var instance = cluster.Instances[0];

        for (var i = 0; i < 6; i++)
        {
            using var wrong = await SendAsync(instance, HttpMethod.Patch, "v1/accounts/me", address, user.AccessToken,
                $$"""{"password":"a new password","current_password":"guess number {{i}}"}""");
            Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        }
        using var right = await SendAsync(instance, HttpMethod.Delete, "v1/accounts/me", address, user.AccessToken,
            $$"""{"current_password":"{{user.Password}}"}""");
        using var login = await SendAsync(instance, HttpMethod.Post, "v1/sessions", address, null,
            $$"""{"username":"{{user.Username}}","password":"{{user.Password}}"}""");

        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        Assert.Equal("urn:sealpost:problem:login-throttled", (await AccountTests.ProblemAsync(right)).GetProperty("type").GetString());
        Assert.NotNull(right.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.TooManyRequests, login.StatusCode);
        Assert.NotNull(await cluster.Api.LookupAsync(user.Username));
    }

    [Fact]
    public async Task An_address_over_its_failure_budget_waits_even_with_the_right_password_and_others_do_not()
    {
        // An instance of the same cluster with a budget of three failures per address.
        await using var strict = await ServiceProcess.StartAsync("Sealpost.Users",
            new Dictionary<string, string>(cluster.Settings()) { ["LoginThrottle:AddressFreeFailures"] = "3" });
        var owner = TestEnvironment.UniqueUsername("own");
        await cluster.Api.RegisterAsync(owner);
        var (sprayer, bystander) = (NewAddress(), NewAddress());

        for (var i = 0; i < 4; i++)
        {
            // A different name each time: no single name is throttled, only the address.
            using var wrong = await SendAsync(strict, HttpMethod.Post, "v1/sessions", sprayer, null,
                $$"""{"username":"{{TestEnvironment.UniqueUsername("spray")}}","password":"spring2026!"}""");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        using var fromSprayer = await SendAsync(strict, HttpMethod.Post, "v1/sessions", sprayer, null,
            $$"""{"username":"{{owner}}","password":"{{UsersApi.DefaultPassword}}"}""");
        using var fromBystander = await SendAsync(strict, HttpMethod.Post, "v1/sessions", bystander, null,
            $$"""{"username":"{{owner}}","password":"{{UsersApi.DefaultPassword}}"}""");

        Assert.Equal(HttpStatusCode.TooManyRequests, fromSprayer.StatusCode);
        Assert.Equal("urn:sealpost:problem:login-throttled", (await AccountTests.ProblemAsync(fromSprayer)).GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.OK, fromBystander.StatusCode);
    }

    [Fact]
    public async Task Key_rotation_needs_the_current_password_and_ends_the_accounts_other_sessions()
    {
        var user = await cluster.Api.NewUserAsync("krot");
        var other = await cluster.Api.LoginAsync(user.Username);
        var newKey = AccountRules.EncodePublicKey(UsersApi.NewPublicKey());

        using var tokenOnly = await cluster.Api.RotateKeyRawAsync(user.AccessToken, newKey, null);
        Assert.Equal("current_password", AccountTests.FieldOf(await AccountTests.ProblemAsync(tokenOnly)));
        using var wrong = await cluster.Api.RotateKeyRawAsync(user.AccessToken, newKey, "not the password");
        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        Assert.Equal("urn:sealpost:problem:wrong-password", (await AccountTests.ProblemAsync(wrong)).GetProperty("type").GetString());
        Assert.Equal(1, (await cluster.Api.LookupAsync(user.Username))!.KeyId);

        using var rotated = await cluster.Api.RotateKeyRawAsync(user.AccessToken, newKey, user.Password);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        Assert.Equal(2, (await cluster.Api.LookupAsync(user.Username))!.KeyId);

        using var otherSession = await cluster.Api.SendAsync(HttpMethod.Get, "v1/accounts/me", other.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, otherSession.StatusCode);
        using var otherRefresh = await cluster.Api.SendAsync(HttpMethod.Post, "v1/sessions/refresh", json: $$"""{"refresh_token":"{{other.RefreshToken}}"}""");
        Assert.Equal(HttpStatusCode.Unauthorized, otherRefresh.StatusCode);
        using var ownSession = await cluster.Api.SendAsync(HttpMethod.Get, "v1/accounts/me", user.AccessToken);
        Assert.Equal(HttpStatusCode.OK, ownSession.StatusCode);
    }

    internal static string NewAddress() => $"10.{Random.Shared.Next(256)}.{Random.Shared.Next(256)}.{Random.Shared.Next(1, 255)}";

    /// <summary>A request as HAProxy would forward it for a client at <paramref name="address"/>.</summary>
    internal static Task<HttpResponseMessage> SendAsync(ServiceProcess instance, HttpMethod method, string path, string address, string? token, string json)
    {
        var request = new HttpRequestMessage(method, path) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Forwarded-For", address);
        if (token is not null) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return instance.Http.SendAsync(request);
    }
}
