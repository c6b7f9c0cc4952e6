using System.Net;
using Sealpost.Testing;

namespace Sealpost.Users.Tests;

/// <summary>
/// With <c>Management:Url</c> set, an instance answers <c>/metrics</c> and <c>/readyz</c> only on that address, and
/// nothing else there; its service port, which HAProxy forwards to, keeps only <c>/healthz</c> for HAProxy's check
/// (security review L1).
/// </summary>
[Collection(UsersCollection.Name)]
public sealed class ManagementPortTests(UsersCluster cluster)
{
    private static readonly string[] MetricsSpellings = ["/metrics", "/METRICS", "/metrics/", "/Metrics?x=1"];

    [Fact]
    public async Task Metrics_and_readiness_answer_only_on_the_management_port()
    {
        var managementPort = Ports.Free();
        await using var instance = await ServiceProcess.StartAsync("Sealpost.Users", new Dictionary<string, string>(cluster.Settings())
        {
            ["Management:Url"] = $"http://127.0.0.1:{managementPort}",
        });
        await using var haproxy = await HaproxyProcess.StartAsync([instance.Port], [Ports.Free()]);
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}/") };
        using var viaHaproxy = new HttpClient { BaseAddress = haproxy.BaseUrl };

        foreach (var path in MetricsSpellings.Append("/readyz"))
        {
            using var direct = await instance.Http.GetAsync(path.TrimStart('/'));
            Assert.True(HttpStatusCode.NotFound == direct.StatusCode, $"{path} on the service port: {(int)direct.StatusCode}");
            using var proxied = await viaHaproxy.GetAsync(path.TrimStart('/'));
            Assert.True(HttpStatusCode.NotFound == proxied.StatusCode, $"{path} through HAProxy: {(int)proxied.StatusCode}");
        }
        var metrics = await management.GetStringAsync("metrics");
        Assert.Contains("# TYPE sealpost_", metrics, StringComparison.Ordinal);
        Assert.Equal("ready", await management.GetStringAsync("readyz"));
        Assert.Equal("ok", await management.GetStringAsync("healthz"));
        // HAProxy's health check still finds /healthz on the service port, and the API is not served on the management port.
        Assert.Equal("ok", await instance.Http.GetStringAsync("healthz"));
        Assert.Equal(HttpStatusCode.OK, (await viaHaproxy.GetAsync(".well-known/jwks.json")).StatusCode);
        using var api = await management.GetAsync(".well-known/jwks.json");
        Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
    }
}
