using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Sealpost.Protocol;

namespace Sealpost.Testing;

/// <summary>A registered test user with a live session.</summary>
public sealed record TestUser(string Username, string Password, byte[] PublicKey, SessionResponse Session)
{
    public string AccessToken => Session.AccessToken;
}

/// <summary>
/// The users service over HTTP, for the tests and the bench, at three levels: intent methods that throw unless the
/// answer is the expected one (<see cref="NewUserAsync"/>, <see cref="LoginAsync"/>), <c>Try…</c> methods that return
/// the status (and session) for a caller that counts refusals (the bench), and <c>…RawAsync</c> requests for hostile tests.
/// </summary>
public sealed class UsersApi(HttpClient http)
{
    public const string DefaultPassword = "correct horse battery";

    public HttpClient Http => http;

    public static byte[] NewPublicKey() => RandomNumberGenerator.GetBytes(32);

    public Task<HttpResponseMessage> RegisterRawAsync(string? username, string? password, string? publicKey, string? displayName = null, CancellationToken ct = default) =>
        http.PostAsJsonAsync("v1/accounts", new RegisterRequest(username, password, publicKey, displayName), SealpostJsonContext.Default.RegisterRequest, ct);

    /// <summary>Registers with an identity key and its certificate for device 1's key id 1 (as every client does now), retried while busy.</summary>
    public async Task RegisterWithIdentityAsync(string username, byte[] publicKey, byte[] identityKey, byte[] certificate, string password = DefaultPassword)
    {
        using var response = await RetryWhileBusyAsync(() => http.PostAsJsonAsync("v1/accounts", new RegisterRequest(username, password,
            AccountRules.EncodePublicKey(publicKey), null, null, AccountRules.EncodePublicKey(identityKey), AccountRules.EncodePublicKey(certificate)),
            SealpostJsonContext.Default.RegisterRequest));
        await EnsureAsync(response, HttpStatusCode.Created);
    }

    /// <summary>An HTTP client whose connections come from <paramref name="source"/> (any 127.x.y.z on Linux), to act as another client address.</summary>
    public static HttpClient ClientFrom(Uri baseUrl, IPAddress source) =>
        new(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(60) };

    public async Task<byte[]> RegisterAsync(string username, string password = DefaultPassword, string? displayName = null)
    {
        var key = NewPublicKey();
        using var response = await RetryWhileBusyAsync(() => RegisterRawAsync(username, password, AccountRules.EncodePublicKey(key), displayName));
        await EnsureAsync(response, HttpStatusCode.Created);
        return key;
    }

    public Task<HttpResponseMessage> LoginRawAsync(string? username, string? password, int? deviceId = null, CancellationToken ct = default) =>
        http.PostAsJsonAsync("v1/sessions", new LoginRequest(username, password, deviceId), SealpostJsonContext.Default.LoginRequest, ct);

    public Task<HttpResponseMessage> RefreshRawAsync(string? refreshToken, CancellationToken ct = default) =>
        http.PostAsJsonAsync("v1/sessions/refresh", new RefreshRequest(refreshToken), SealpostJsonContext.Default.RefreshRequest, ct);

    /// <summary>Registers with a key of the caller's; the status says how it went (201, or 409 when the name is taken).</summary>
    public async Task<HttpStatusCode> TryRegisterAsync(string username, string password, string publicKey, CancellationToken ct = default)
    {
        using var response = await RetryWhileBusyAsync(() => RegisterRawAsync(username, password, publicKey, ct: ct), ct);
        return response.StatusCode;
    }

    /// <summary>Logs in; the session when it worked, and the status either way.</summary>
    public async Task<(HttpStatusCode Status, SessionResponse? Session)> TryLoginAsync(string username, string password, CancellationToken ct = default)
    {
        using var response = await RetryWhileBusyAsync(() => LoginRawAsync(username, password, ct: ct), ct);
        return await SessionOfAsync(response, ct);
    }

    /// <summary>A new session for a refresh token (which it replaces); costs no password hash, so it is never busy.</summary>
    public async Task<(HttpStatusCode Status, SessionResponse? Session)> TryRefreshAsync(string refreshToken, CancellationToken ct = default)
    {
        using var response = await RefreshRawAsync(refreshToken, ct);
        return await SessionOfAsync(response, ct);
    }

    private static async Task<(HttpStatusCode Status, SessionResponse? Session)> SessionOfAsync(HttpResponseMessage response, CancellationToken ct) =>
        (response.StatusCode, response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse, ct) : null);

    /// <summary>A new session, of <paramref name="deviceId"/> (the lowest live device when null).</summary>
    public async Task<SessionResponse> LoginAsync(string username, string password = DefaultPassword, int? deviceId = null)
    {
        using var response = await RetryWhileBusyAsync(() => LoginRawAsync(username, password, deviceId));
        await EnsureAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse))!;
    }

    public async Task<TestUser> NewUserAsync(string prefix = "u")
    {
        var username = TestEnvironment.UniqueUsername(prefix);
        var key = await RegisterAsync(username);
        return new TestUser(username, DefaultPassword, key, await LoginAsync(username));
    }

    public async Task<PublicAccount?> LookupAsync(string username)
    {
        using var response = await http.GetAsync($"v1/accounts/{Uri.EscapeDataString(username)}");
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        await EnsureAsync(response, HttpStatusCode.OK);
        return await response.Content.ReadFromJsonAsync(SealpostJsonContext.Default.PublicAccount);
    }

    /// <summary>PUT /v1/accounts/me/key: a new public key, which needs the current password.</summary>
    public Task<HttpResponseMessage> RotateKeyRawAsync(string accessToken, string? publicKey, string? currentPassword) =>
        SendAsync(HttpMethod.Put, "v1/accounts/me/key", accessToken,
            System.Text.Json.JsonSerializer.Serialize(new RotateKeyRequest(publicKey, currentPassword), SealpostJsonContext.Default.RotateKeyRequest));

    /// <summary>
    /// As a well-behaved client does: a <c>503 busy</c> is sent again after its Retry-After (a second without one), up to
    /// 20 times. The users service bounds concurrent Argon2id work and answers 503 beyond it: the request did not run.
    /// Registration and login cost a hash each; a bench making accounts by the thousand meets the bound on purpose.
    /// </summary>
    public static async Task<HttpResponseMessage> RetryWhileBusyAsync(Func<Task<HttpResponseMessage>> send, CancellationToken ct = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var response = await send();
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || attempt == 20) return response;
            var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
            response.Dispose();
            await Task.Delay(wait, ct);
        }
    }

    /// <summary>Sends any method, path and raw body with an optional bearer token.</summary>
    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? token = null, string? json = null, string contentType = "application/json")
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        return http.SendAsync(request);
    }

    public static async Task EnsureAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        if (response.StatusCode != expected)
            throw new HttpRequestException($"expected {(int)expected}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
}
