using System.Net;
using System.Net.Http.Json;
using Sealpost.Protocol;

namespace Sealpost.Bench.Infrastructure;

/// <summary>The users service's REST calls the benchmark needs, spoken exactly as a client speaks them.</summary>
public sealed class UsersApi(HttpClient http)
{
    public HttpClient Http { get; } = http;

    /// <summary>An HTTP client for the system under test; only loopback addresses are ever loaded.</summary>
    public static HttpClient CreateClient(Uri baseUrl, int connections)
    {
        Target.RequireLoopback(baseUrl);
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

    public async Task<HttpStatusCode> RegisterAsync(string username, string password, string publicKey, CancellationToken ct)
    {
        using var response = await WhileBusyAsync(() => Http.PostAsJsonAsync("/v1/accounts", new RegisterRequest(username, password, publicKey, null),
            SealpostJsonContext.Default.RegisterRequest, ct), ct);
        return response.StatusCode;
    }

    public async Task<(HttpStatusCode Status, SessionResponse? Session)> LoginAsync(string username, string password, CancellationToken ct)
    {
        using var response = await WhileBusyAsync(
            () => Http.PostAsJsonAsync("/v1/sessions", new LoginRequest(username, password), SealpostJsonContext.Default.LoginRequest, ct), ct);
        return (response.StatusCode, response.IsSuccessStatusCode
            ? await response.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse, ct) : null);
    }

    public async Task<(HttpStatusCode Status, SessionResponse? Session)> RefreshAsync(string refreshToken, CancellationToken ct)
    {
        using var response = await Http.PostAsJsonAsync("/v1/sessions/refresh", new RefreshRequest(refreshToken), SealpostJsonContext.Default.RefreshRequest, ct);
        return (response.StatusCode, response.IsSuccessStatusCode
            ? await response.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse, ct) : null);
    }

    /// <summary>
    /// The users service bounds concurrent Argon2id work and answers <c>503</c> with <c>Retry-After</c> beyond it: the
    /// request did not run, so it is sent again after the wait, as a client does. Registration and login cost a hash each.
    /// </summary>
    private static async Task<HttpResponseMessage> WhileBusyAsync(Func<Task<HttpResponseMessage>> send, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var response = await send();
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || response.Headers.RetryAfter?.Delta is not { } wait || attempt == 20) return response;
            response.Dispose();
            await Task.Delay(wait, ct);
        }
    }

    public async Task<HttpStatusCode> LookupStatusAsync(string username, CancellationToken ct)
    {
        using var response = await Http.GetAsync("/v1/accounts/" + username, ct);
        return response.StatusCode;
    }
}

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
