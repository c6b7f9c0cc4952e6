using System.Net;

namespace Sealpost.Bench.Infrastructure;

/// <summary>Where the load goes.</summary>
public static class Target
{
    /// <summary>The bridge scripts/cluster makes between this machine's network namespaces (its simulated hosts).</summary>
    private const string ClusterBridge = "sp-br0";

    /// <summary>
    /// A load test sends traffic only to this machine: loopback, or an address on the cluster's bridge (the simulated
    /// hosts of scripts/cluster, network namespaces of this machine).
    /// </summary>
    public static void RequireLoopback(Uri url)
    {
        if (url.IsLoopback) return;
        if (!IPAddress.TryParse(url.Host, out var ip)) ip = null;
        if (ip is not null && (IPAddress.IsLoopback(ip) || OnClusterBridge(ip))) return;
        throw new BenchException($"{url} is not on this machine: sealpost-bench loads only loopback addresses (127.0.0.1, localhost, [::1]) and the simulated hosts on {ClusterBridge}.");
    }

    private static bool OnClusterBridge(IPAddress target) =>
        System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.Name == ClusterBridge)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Any(a => a.Address.AddressFamily == target.AddressFamily && SameLink(a.Address, target, a.PrefixLength));

    private static bool SameLink(IPAddress mine, IPAddress target, int prefix)
    {
        var (a, b) = (mine.GetAddressBytes(), target.GetAddressBytes());
        for (var bit = 0; bit < prefix; bit++)
            if (((a[bit / 8] ^ b[bit / 8]) & (0x80 >> (bit % 8))) != 0) return false;
        return true;
    }

    /// <summary>An HTTP client for the system under test, with a pool of <paramref name="connections"/>; only loopback addresses are ever loaded.</summary>
    public static HttpClient CreateHttpClient(Uri baseUrl, int connections)
    {
        RequireLoopback(baseUrl);
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5),
        };
        return new HttpClient(handler) { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(60) };
    }

    public static Uri WebSocketUri(Uri baseUrl)
    {
        var builder = new UriBuilder(new Uri(baseUrl, "/v1/ws")) { Scheme = baseUrl.Scheme == Uri.UriSchemeHttps ? "wss" : "ws" };
        return builder.Uri;
    }

    /// <summary>The socket endpoints to spread over: HAProxy's, or the instances' own when <c>--direct</c> names them.</summary>
    public static IReadOnlyList<Uri> SocketEndpoints(Uri baseUrl, string? direct)
    {
        if (string.IsNullOrWhiteSpace(direct)) return [WebSocketUri(baseUrl)];
        var list = new List<Uri>();
        foreach (var part in direct.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var uri = new Uri(part.Contains("://", StringComparison.Ordinal) ? part : "http://" + part);
            RequireLoopback(uri);
            list.Add(WebSocketUri(uri));
        }
        return list;
    }
}
