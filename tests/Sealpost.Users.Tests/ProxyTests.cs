using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sealpost.Protocol;
using Sealpost.Testing;
using Xunit.Abstractions;

namespace Sealpost.Users.Tests;

/// <summary>
/// deploy/haproxy.cfg in front of the users instances. Clients take other loopback source addresses (127.0.x.y), so
/// HAProxy sees them as different client addresses. No messages instances: those backends point at nothing.
/// </summary>
[Collection(UsersCollection.Name)]
public sealed class ProxyTests(UsersCluster cluster, ITestOutputHelper output)
{
    private static readonly int[] Nowhere = [Ports.Free()];

    private Task<HaproxyProcess> StartHaproxyAsync(Dictionary<string, string>? environment = null) =>
        HaproxyProcess.StartAsync([.. cluster.Instances.Select(i => i.Port)], Nowhere, environment);

    [Fact]
    public async Task Haproxy_drops_client_sent_forwarding_headers_and_names_the_real_source()
    {
        await using var echo = new HeaderEcho();
        await using var haproxy = await HaproxyProcess.StartAsync([echo.Port], Nowhere);
        using var http = UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.5"));
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/accounts/alice");
        request.Headers.Add("X-Forwarded-For", "203.0.113.66");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "evil.example");
        request.Headers.Add("X-Real-IP", "203.0.113.66");
        request.Headers.Add("Forwarded", "for=203.0.113.66;proto=https");

        using var response = await http.SendAsync(request);
        var forwarded = (await response.Content.ReadAsStringAsync()).Split("\r\n").Skip(1)
            .Select(l => l.Split(':', 2)).ToLookup(h => h[0].ToLowerInvariant(), h => h[1].Trim());

        output.WriteLine(string.Join('\n', forwarded.SelectMany(g => g.Select(v => $"{g.Key}: {v}"))));
        Assert.Equal(["127.0.0.5"], forwarded["x-forwarded-for"]);
        Assert.Equal(["http"], forwarded["x-forwarded-proto"]);
        Assert.Empty(forwarded["x-forwarded-host"]);
        Assert.Empty(forwarded["x-real-ip"]);
        Assert.Empty(forwarded["forwarded"]);
    }

    [Fact]
    public async Task Logins_and_registrations_are_limited_per_client_address()
    {
        await using var haproxy = await StartHaproxyAsync(new() { ["SEALPOST_LOGINS_PER_MINUTE"] = "4", ["SEALPOST_REGISTRATIONS_PER_HOUR"] = "3" });
        var hammering = new UsersApi(UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.6")));
        var elsewhere = new UsersApi(UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.7")));

        for (var i = 0; i < 3; i++) await hammering.RegisterAsync(TestEnvironment.UniqueUsername("lim"));
        using var fourth = await hammering.RegisterRawAsync(TestEnvironment.UniqueUsername("lim"), UsersApi.DefaultPassword, AccountRules.EncodePublicKey(UsersApi.NewPublicKey()));
        Assert.Equal(HttpStatusCode.TooManyRequests, fourth.StatusCode);
        Assert.Equal("urn:sealpost:problem:rate-limited", (await AccountTests.ProblemAsync(fourth)).GetProperty("type").GetString());
        Assert.NotNull(fourth.Headers.RetryAfter?.Delta);
        var other = TestEnvironment.UniqueUsername("lim");
        await elsewhere.RegisterAsync(other);

        for (var i = 0; i < 4; i++)
        {
            using var wrong = await hammering.LoginRawAsync(other, $"guess number {i}");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        using var fifth = await hammering.LoginRawAsync(other, UsersApi.DefaultPassword);
        Assert.Equal(HttpStatusCode.TooManyRequests, fifth.StatusCode);
        Assert.Equal("urn:sealpost:problem:rate-limited", (await AccountTests.ProblemAsync(fifth)).GetProperty("type").GetString());
        Assert.Equal("nosniff", Assert.Single(fifth.Headers.GetValues("X-Content-Type-Options")));
        await elsewhere.LoginAsync(other);
    }

    [Fact]
    public async Task Links_are_routed_to_the_users_service_and_limited_per_client_address()
    {
        await using var haproxy = await StartHaproxyAsync(new() { ["SEALPOST_LINKS_PER_HOUR"] = "2" });
        var hammering = new Linking(new UsersApi(UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.8"))));
        var elsewhere = new Linking(new UsersApi(UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.9"))));

        var owner = (await new UsersApi(UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.9"))).NewUserAsync("lim")).Username;
        var first = await hammering.StartAsync(owner);
        await hammering.StartAsync(owner);
        using var third = await hammering.CreateRawAsync("laptop", AccountRules.EncodePublicKey(UsersApi.NewPublicKey()), owner);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal("urn:sealpost:problem:rate-limited", (await AccountTests.ProblemAsync(third)).GetProperty("type").GetString());
        Assert.NotNull(third.Headers.RetryAfter?.Delta);
        // Polling is not limited by the links' hourly budget: the new device polls until someone approves it.
        for (var i = 0; i < 5; i++) Assert.Equal(LinkStatus.Pending, (await hammering.PollAsync(first)).Status);
        await elsewhere.StartAsync(owner);
    }

    /// <summary>
    /// The anonymous routes anyone may hammer, polling a link and reading an account's devices and keys, are limited per
    /// address too, generously (security review L7); the messages instances, which read the directory through HAProxy
    /// for every sender, are not (SEALPOST_SERVICE_SOURCES, 127.0.0.1 by default).
    /// </summary>
    [Fact]
    public async Task Link_polls_and_anonymous_directory_reads_are_limited_per_client_address_but_not_for_the_services()
    {
        await using var haproxy = await StartHaproxyAsync(new() { ["SEALPOST_LINK_POLLS_PER_MINUTE"] = "3", ["SEALPOST_DIRECTORY_READS_PER_MINUTE"] = "3" });
        var hammering = new Linking(new UsersApi(UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.12"))));
        var elsewhere = new Linking(new UsersApi(UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.13"))));
        var alice = await cluster.Api.NewUserAsync("dir");
        var device = await hammering.StartAsync(alice.Username);
        for (var i = 0; i < 3; i++) Assert.Equal(LinkStatus.Pending, (await hammering.PollAsync(device)).Status);
        using (var polled = await hammering.PollRawAsync(device.Link.LinkId, device.Link.PollToken)) await AssertRateLimitedAsync(polled);
        Assert.Equal(LinkStatus.Pending, (await elsewhere.PollAsync(device)).Status);

        using var reader = UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.14"));
        foreach (var path in new[] { $"v1/accounts/{alice.Username}/devices", $"v1/accounts/{alice.Username}/devices/1/keys/1", $"v1/accounts/{alice.Username}/keys/1" })
            using (var read = await reader.GetAsync(path)) Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        using (var fourth = await reader.GetAsync($"v1/accounts/{alice.Username}/devices")) await AssertRateLimitedAsync(fourth);
        // The public record itself, and the owner's own list, are not directory reads.
        using (var record = await reader.GetAsync($"v1/accounts/{alice.Username}")) Assert.Equal(HttpStatusCode.OK, record.StatusCode);
        using var service = UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.1"));
        for (var i = 0; i < 10; i++)
            using (var read = await service.GetAsync($"v1/accounts/{alice.Username}/devices")) Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    /// <summary>
    /// Every per-address limit counts an IPv6 client by its /64, one subscriber's usual allocation (security review L5).
    /// The test stack has only IPv4 loopback sources, so this reads the configuration HAProxy runs with.
    /// </summary>
    [Fact]
    public void Every_per_address_counter_tracks_ipv6_clients_by_their_64()
    {
        var tracked = File.ReadAllLines(Path.Combine(TestEnvironment.RepoRoot, "deploy", "haproxy.cfg"))
            .Select(l => l.Trim()).Where(l => l.StartsWith("http-request track-sc", StringComparison.Ordinal)).ToList();
        Assert.True(tracked.Count >= 6, string.Join('\n', tracked));
        Assert.All(tracked, l => Assert.Matches(@"^http-request track-sc\d src,ipmask\(32,64\) table ", l));
    }

    private static async Task AssertRateLimitedAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("urn:sealpost:problem:rate-limited", (await AccountTests.ProblemAsync(response)).GetProperty("type").GetString());
        Assert.NotNull(response.Headers.RetryAfter?.Delta);
    }

    /// <summary>
    /// Spellings that Kestrel routes to a rate-limited or private route once it has decoded <c>%2e</c> and removed dot
    /// segments, while HAProxy's rules see the path as sent (security review H1). Each must be refused by HAProxy itself.
    /// </summary>
    private static readonly (string Method, string Path)[] NonCanonicalPaths =
    [
        ("POST", "/v1/accounts/%2e"), ("POST", "/v1/accounts/."), ("POST", "/v1/accounts/x/.."), ("POST", "/v1/accounts/x/%2E%2e"),
        ("POST", "/%2e%2e/v1/accounts"), ("POST", "/v1/accounts/x%2f.."), ("POST", "/v1//accounts"),
        ("POST", "/v1/sessions/%2e"), ("POST", "/v1/sessions/x/.."), ("POST", "/v1/links/%2e"), ("POST", "/v1/links/x/%2e%2e/"),
        ("GET", "/v1/accounts/%2e%2e/%2e%2e/metrics"), ("GET", "/v1/accounts/../../metrics"), ("GET", "/web/%2e%2e/readyz"),
        ("GET", "/web/%2E%2E/healthz"), ("GET", "/v1/accounts/.%2e/.%2e/metrics"), ("GET", "/v1/accounts/%2e%2e%5cmetrics"),
        ("GET", "/v1/accounts/..%2f..%2fmetrics"), ("GET", "/.well-known/../metrics"),
    ];

    [Fact]
    public async Task A_non_canonical_path_is_refused_by_haproxy_before_any_limit_or_route()
    {
        await using var haproxy = await StartHaproxyAsync(new() { ["SEALPOST_REGISTRATIONS_PER_HOUR"] = "1", ["SEALPOST_LOGINS_PER_MINUTE"] = "1", ["SEALPOST_LINKS_PER_HOUR"] = "1" });
        using var http = UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.10"));
        // The address has used up its one registration, so only a spelling that slips past the limit could register.
        await new UsersApi(http).RegisterAsync(TestEnvironment.UniqueUsername("canon"));

        foreach (var (method, path) in NonCanonicalPaths)
        {
            var username = TestEnvironment.UniqueUsername("canon");
            var uri = new Uri(haproxy.BaseUrl + path.TrimStart('/'), new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
            using var request = new HttpRequestMessage(new HttpMethod(method), uri);
            if (method == "POST")
                request.Content = JsonContent.Create(new { username, password = UsersApi.DefaultPassword, public_key = AccountRules.EncodePublicKey(UsersApi.NewPublicKey()), name = "laptop" });

            using var response = await http.SendAsync(request);

            output.WriteLine($"{method} {uri.PathAndQuery} -> {(int)response.StatusCode}");
            Assert.Equal(path, uri.PathAndQuery);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("urn:sealpost:problem:non-canonical-path", (await AccountTests.ProblemAsync(response)).GetProperty("type").GetString());
            Assert.False(response.Headers.Contains("X-Sealpost-Instance"), $"a users instance answered {path}");
            Assert.Null(await cluster.Api.LookupAsync(username));
        }
    }

    [Fact]
    public async Task Canonical_paths_with_dots_inside_a_segment_still_pass()
    {
        await using var haproxy = await StartHaproxyAsync();
        using var http = UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.11"));
        using var jwks = await http.GetAsync(".well-known/jwks.json");
        using var page = await http.GetAsync("index.html");
        Assert.Equal(HttpStatusCode.OK, jwks.StatusCode);
        Assert.NotEqual(HttpStatusCode.BadRequest, page.StatusCode);
    }

    /// <summary>
    /// Eight client addresses, eight requests in flight each, send bogus logins (well-formed unknown names: each would cost an Argon2id hash) as fast
    /// as they are answered, at the config's own limits. Reports what it saw; asserts only outcomes, never timings.
    /// </summary>
    [Fact]
    public async Task A_flood_of_bogus_logins_leaves_a_real_users_login_working_and_the_instances_healthy()
    {
        await using var haproxy = await StartHaproxyAsync();
        var real = TestEnvironment.UniqueUsername("real");
        await cluster.Api.RegisterAsync(real);
        var answers = new ConcurrentDictionary<string, int>();
        using var stop = new CancellationTokenSource();
        var flooders = Enumerable.Range(1, 8).Select(i => UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse($"127.0.1.{i}"))).ToArray();

        async Task FloodAsync(HttpClient http)
        {
            var api = new UsersApi(http);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await api.LoginRawAsync(TestEnvironment.UniqueUsername("bogus"), "a plausible password 123");
                    answers.AddOrUpdate(await KindAsync(response), 1, (_, n) => n + 1);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    answers.AddOrUpdate("transport error", 1, (_, n) => n + 1);
                }
            }
        }

        var health = new ConcurrentBag<(bool Ok, double Ms)>();
        async Task ProbeAsync(ServiceProcess instance)
        {
            using var http = new HttpClient { BaseAddress = instance.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
            while (!stop.IsCancellationRequested)
            {
                var clock = Stopwatch.StartNew();
                try
                {
                    health.Add((await http.GetStringAsync("/healthz") == "ok", clock.Elapsed.TotalMilliseconds));
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    health.Add((false, clock.Elapsed.TotalMilliseconds));
                }
                await Task.Delay(250);
            }
        }

        var flood = flooders.SelectMany(c => Enumerable.Range(0, 8).Select(_ => FloodAsync(c))).ToList();
        var probes = cluster.Instances.Select(ProbeAsync).ToList();
        await Task.Delay(TimeSpan.FromSeconds(2));

        // The real user, from its own address, behaves as a client should: a 503 busy is tried again after Retry-After.
        using var realHttp = UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Loopback);
        var realApi = new UsersApi(realHttp);
        var attempts = new List<string>();
        var loginClock = Stopwatch.StartNew();
        HttpStatusCode realStatus;
        while (true)
        {
            using var response = await realApi.LoginRawAsync(real, UsersApi.DefaultPassword);
            attempts.Add(await KindAsync(response));
            realStatus = response.StatusCode;
            if (realStatus != HttpStatusCode.ServiceUnavailable || attempts.Count == 30) break;
            await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
        }
        loginClock.Stop();
        await Task.Delay(TimeSpan.FromSeconds(5));
        // On a machine so loaded that the flood is slow, it goes on until an address reaches HAProxy's limit (a minute at most).
        var floodClock = Stopwatch.StartNew();
        while (answers.GetValueOrDefault("429 rate-limited") == 0 && floodClock.Elapsed < TimeSpan.FromMinutes(1)) await Task.Delay(250);
        await stop.CancelAsync();
        await Task.WhenAll(flood.Concat(probes));
        using var lookup = await realApi.Http.GetAsync($"v1/accounts/{real}");

        var total = answers.Values.Sum();
        output.WriteLine($"flood: {total} bogus logins from 8 addresses (8 in flight each) over ~{2 + loginClock.Elapsed.TotalSeconds + 5 + floodClock.Elapsed.TotalSeconds:0.0} s");
        foreach (var (kind, count) in answers.OrderByDescending(a => a.Value)) output.WriteLine($"  {count,6}  {kind}");
        output.WriteLine($"real user's login: {realStatus} after {loginClock.Elapsed.TotalMilliseconds:0} ms, {attempts.Count} attempt(s): {string.Join(", ", attempts)}");
        output.WriteLine($"/healthz probes: {health.Count(h => h.Ok)} ok, {health.Count(h => !h.Ok)} failed, slowest {health.Max(h => h.Ms):0} ms, median {Median(health.Select(h => h.Ms)):0} ms");
        foreach (var instance in cluster.Instances) output.WriteLine($"users instance {instance.Port}: {instance.RecentOutput.Split('\n').Count(l => l.Contains("answered 503", StringComparison.Ordinal))} busy answers in its last log lines");

        Assert.Equal(HttpStatusCode.OK, realStatus);
        Assert.All(health, h => Assert.True(h.Ok, "a /healthz probe failed during the flood"));
        Assert.Equal(HttpStatusCode.OK, lookup.StatusCode);
        Assert.True(answers.GetValueOrDefault("429 rate-limited") > 0, "HAProxy never refused a flooding address");
        foreach (var client in flooders) client.Dispose();
    }

    private static async Task<string> KindAsync(HttpResponseMessage response)
    {
        var type = "";
        try
        {
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("type", out var t))
                type = " " + t.GetString()?.Replace("urn:sealpost:problem:", "", StringComparison.Ordinal);
        }
        catch (JsonException)
        {
            type = " (not a problem document)";
        }
        return $"{(int)response.StatusCode}{type}";
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted[sorted.Length / 2];
    }
}
