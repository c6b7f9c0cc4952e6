using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Identity;
using Sealpost.Messages.Tests.Hosting;
using Xunit.Abstractions;

namespace Sealpost.Messages.Tests.Identity;

/// <summary>
/// The session check at connect and at <c>auth</c> (decision 84) against a real users instance: its answers, and what
/// it costs (printed, never asserted: docs/benchmarks.md).
/// </summary>
[Collection(HostsCollection.Name)]
public sealed class LiveSessionsTests(MessagesHosts hosts, ITestOutputHelper output)
{
    private LiveSessions Sessions(TimeSpan cacheTime) => new(new HttpClient(),
        Options.Create(new UsersOptions { BaseUrl = hosts.Users.Instances[0].BaseAddress, LiveSessionCacheTime = cacheTime }),
        TimeProvider.System, NullLogger<LiveSessions>.Instance);

    [Fact]
    public async Task A_session_is_live_until_it_ends_and_a_live_answer_is_kept_for_under_a_second()
    {
        var user = await hosts.Api.NewUserAsync("live");
        var validator = hosts.Instances[0].Services.GetRequiredService<TokenValidator>();
        var identity = (await validator.ValidateAsync(user.AccessToken, CancellationToken.None))!.Value;
        var asking = Sessions(TimeSpan.Zero);
        var keeping = Sessions(TimeSpan.FromMilliseconds(500));

        for (var i = 0; i < 50; i++) Assert.True(await asking.IsLiveAsync(user.AccessToken, identity, CancellationToken.None));
        var asked = Stopwatch.StartNew();
        const int Asks = 500;
        for (var i = 0; i < Asks; i++) await asking.IsLiveAsync(user.AccessToken, identity, CancellationToken.None);
        asked.Stop();
        var validated = Stopwatch.StartNew();
        for (var i = 0; i < Asks; i++) await validator.ValidateAsync(user.AccessToken, CancellationToken.None);
        validated.Stop();
        Assert.True(await keeping.IsLiveAsync(user.AccessToken, identity, CancellationToken.None));
        var kept = Stopwatch.StartNew();
        for (var i = 0; i < Asks; i++) await keeping.IsLiveAsync(user.AccessToken, identity, CancellationToken.None);
        kept.Stop();
        output.WriteLine($"session check, asked: {asked.Elapsed.TotalMicroseconds / Asks:F0} µs; kept answer: {kept.Elapsed.TotalMicroseconds / Asks:F2} µs; " +
            $"for scale, the token's own validation: {validated.Elapsed.TotalMicroseconds / Asks:F0} µs (sequential, one users instance, no HAProxy)");

        using var logout = await hosts.Api.SendAsync(HttpMethod.Delete, "v1/sessions/current", user.AccessToken);
        Assert.False(await asking.IsLiveAsync(user.AccessToken, identity, CancellationToken.None));
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        Assert.False(await keeping.IsLiveAsync(user.AccessToken, identity, CancellationToken.None));
    }
}
