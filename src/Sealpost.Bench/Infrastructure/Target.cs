using System.Net;

namespace Sealpost.Bench.Infrastructure;

/// <summary>Where the load goes.</summary>
public static class Target
{
    /// <summary>A load test sends traffic only to this machine.</summary>
    public static void RequireLoopback(Uri url)
    {
        if (url.IsLoopback) return;
        if (IPAddress.TryParse(url.Host, out var ip) && IPAddress.IsLoopback(ip)) return;
        throw new BenchException($"{url} is not on this machine: sealpost-bench loads only loopback addresses (127.0.0.1, localhost, [::1]).");
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
