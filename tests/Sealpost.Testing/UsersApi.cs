using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Sealpost.Protocol;

namespace Sealpost.Testing;

/// <summary>A registered test user with a live session.</summary>
public sealed record TestUser(string Username, string Password, byte[] PublicKey, SessionResponse Session)
{
    public string AccessToken => Session.AccessToken;
}

/// <summary>Drives the users service over HTTP by intent; raw requests stay available for hostile tests.</summary>
public sealed class UsersApi(HttpClient http)
{
    public const string DefaultPassword = "correct horse battery";

    public HttpClient Http => http;

    public static byte[] NewPublicKey() => RandomNumberGenerator.GetBytes(32);

    public Task<HttpResponseMessage> RegisterRawAsync(string? username, string? password, string? publicKey, string? displayName = null) =>
        http.PostAsJsonAsync("v1/accounts", new RegisterRequest(username, password, publicKey, displayName), SealpostJsonContext.Default.RegisterRequest);

    public async Task<byte[]> RegisterAsync(string username, string password = DefaultPassword, string? displayName = null)
    {
        var key = NewPublicKey();
        using var response = await RegisterRawAsync(username, password, AccountRules.EncodePublicKey(key), displayName);
        await EnsureAsync(response, HttpStatusCode.Created);
        return key;
    }

    public Task<HttpResponseMessage> LoginRawAsync(string? username, string? password) =>
        http.PostAsJsonAsync("v1/sessions", new LoginRequest(username, password), SealpostJsonContext.Default.LoginRequest);

    public async Task<SessionResponse> LoginAsync(string username, string password = DefaultPassword)
    {
        using var response = await LoginRawAsync(username, password);
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
