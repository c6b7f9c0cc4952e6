using System.Net;
using Sealpost.Testing;

namespace Sealpost.Users.Tests;

[Collection(UsersCollection.Name)]
public sealed class LoginThrottleTests(UsersCluster cluster)
{
    [Fact]
    public async Task Guessing_one_password_is_throttled_on_every_instance_and_the_owner_gets_back_in_after_the_wait()
    {
        var username = TestEnvironment.UniqueUsername("brute");
        await cluster.Api.RegisterAsync(username);
        var instances = cluster.Instances.Select(i => new UsersApi(i.Http)).ToArray();

        for (var i = 0; i < 5; i++)
        {
            using var wrong = await instances[i % 2].LoginRawAsync(username, $"guess number {i}");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        using var sixth = await instances[1].LoginRawAsync(username, "guess number 6");
        using var throttled = await instances[0].LoginRawAsync(username, UsersApi.DefaultPassword);

        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.Equal("urn:sealpost:problem:login-throttled", (await AccountTests.ProblemAsync(throttled)).GetProperty("type").GetString());
        var retryAfter = throttled.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3));

        var other = TestEnvironment.UniqueUsername("bystander");
        await cluster.Api.RegisterAsync(other);
        await cluster.Api.LoginAsync(other);

        await Task.Delay(retryAfter.Value + TimeSpan.FromMilliseconds(500));
        await instances[1].LoginAsync(username);
    }

    [Fact]
    public async Task An_unknown_name_is_throttled_exactly_like_a_real_one()
    {
        var ghost = TestEnvironment.UniqueUsername("ghost");
        HttpStatusCode last = default;
        for (var i = 0; i < 7; i++)
        {
            using var response = await cluster.Api.LoginRawAsync(ghost, "any password at all");
            last = response.StatusCode;
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, last);
    }
}
