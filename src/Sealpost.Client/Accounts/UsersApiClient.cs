using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sealpost.Client.Contacts;
using Sealpost.Protocol;

namespace Sealpost.Client.Accounts;

/// <summary>The users service's REST API. Failures become <see cref="SealpostException"/>s carrying the problem's stable code.</summary>
internal sealed class UsersApiClient(HttpClient http) : IKeyDirectory
{
    private const string ProblemPrefix = "urn:sealpost:problem:";
    private const int BusyAttempts = 4;

    public Task<OwnAccount> RegisterAsync(
        string username, string password, string publicKey, string? displayName, string? deviceName, string identityKey, string certificate, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "v1/accounts", null, new RegisterRequest(username, password, publicKey, displayName, deviceName, identityKey, certificate),
            SealpostJsonContext.Default.RegisterRequest, SealpostJsonContext.Default.OwnAccount, ct)!;

    /// <summary>A session for one of the account's devices (<paramref name="deviceId"/>; absent: the lowest live one).</summary>
    public Task<SessionResponse> LoginAsync(string username, string password, uint? deviceId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "v1/sessions", null, new LoginRequest(username, password, (int?)deviceId),
            SealpostJsonContext.Default.LoginRequest, SealpostJsonContext.Default.SessionResponse, ct)!;

    /// <summary>Publishes the account's first identity key with a new key for the caller's device and its certificate (set once).</summary>
    public Task<DeviceList> SetIdentityAsync(string accessToken, string identityKey, string publicKey, string certificate, string currentPassword, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "v1/accounts/me/identity", accessToken, new SetIdentityRequest(identityKey, certificate, currentPassword, publicKey),
            SealpostJsonContext.Default.SetIdentityRequest, SealpostJsonContext.Default.DeviceList, ct)!;

    /// <summary>The account's identity key and its devices' current keys with certificates, or null when there is no such account.</summary>
    public async Task<DeviceList?> GetDevicesAsync(string username, CancellationToken ct)
    {
        var list = await OrNullAsync(SendAsync<object, DeviceList>(HttpMethod.Get, $"v1/accounts/{Uri.EscapeDataString(username)}/devices", null, null, null,
            SealpostJsonContext.Default.DeviceList, ct)).ConfigureAwait(false);
        if (list is not null && list.Username != username)
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.WrongRecord, $"The server answered a request for {username}'s devices with another account's.");
        return list;
    }

    /// <summary>One key a device of the account has had, with its certificate (also for removed devices), or null.</summary>
    public async Task<PublicDevice?> GetDeviceKeyAsync(string username, uint deviceId, uint keyId, CancellationToken ct)
    {
        if (deviceId > int.MaxValue || keyId > int.MaxValue) return null;
        var key = await OrNullAsync(SendAsync<object, PublicDevice>(HttpMethod.Get, $"v1/accounts/{Uri.EscapeDataString(username)}/devices/{deviceId}/keys/{keyId}",
            null, null, null, SealpostJsonContext.Default.PublicDevice, ct)).ConfigureAwait(false);
        if (key is not null && (key.DeviceId != deviceId || key.KeyId != keyId))
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.WrongRecord, $"The server answered a request for {username}'s device {deviceId} key {keyId} with another key.");
        return key;
    }

    public Task<OwnDeviceList> GetOwnDevicesAsync(string accessToken, CancellationToken ct) =>
        SendAsync<object, OwnDeviceList>(HttpMethod.Get, "v1/accounts/me/devices", accessToken, null, null, SealpostJsonContext.Default.OwnDeviceList, ct)!;

    public Task<OwnDevice> RenameDeviceAsync(string accessToken, uint deviceId, string name, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, $"v1/accounts/me/devices/{deviceId}", accessToken, new RenameDeviceRequest(name),
            SealpostJsonContext.Default.RenameDeviceRequest, SealpostJsonContext.Default.OwnDevice, ct)!;

    public async Task RemoveDeviceAsync(string accessToken, uint deviceId, string currentPassword, CancellationToken ct) =>
        await SendAsync<RemoveDeviceRequest, object>(HttpMethod.Delete, $"v1/accounts/me/devices/{deviceId}", accessToken, new RemoveDeviceRequest(currentPassword),
            SealpostJsonContext.Default.RemoveDeviceRequest, null, ct).ConfigureAwait(false);

    /// <summary>A new device asks to be linked to <paramref name="username"/>'s account (no session yet).</summary>
    public Task<CreatedLink> CreateLinkAsync(string username, string deviceName, string publicKey, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "v1/links", null, new CreateLinkRequest(deviceName, publicKey, username),
            SealpostJsonContext.Default.CreateLinkRequest, SealpostJsonContext.Default.CreatedLink, ct)!;

    /// <summary>The approving device reads what the new device asked with, and the device id it will get.</summary>
    public Task<PendingLink> GetLinkAsync(string accessToken, string linkId, CancellationToken ct) =>
        SendAsync<object, PendingLink>(HttpMethod.Get, $"v1/links/{Uri.EscapeDataString(linkId)}", accessToken, null, null, SealpostJsonContext.Default.PendingLink, ct)!;

    public async Task ApproveLinkAsync(string accessToken, string linkId, string certificate, string sealedSecret, CancellationToken ct) =>
        await SendAsync<ApproveLinkRequest, object>(HttpMethod.Post, $"v1/links/{Uri.EscapeDataString(linkId)}/approve", accessToken,
            new ApproveLinkRequest(certificate, sealedSecret), SealpostJsonContext.Default.ApproveLinkRequest, null, ct).ConfigureAwait(false);

    public Task<LinkStatus> PollLinkAsync(string linkId, string pollToken, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"v1/links/{Uri.EscapeDataString(linkId)}/poll", null, new PollLinkRequest(pollToken),
            SealpostJsonContext.Default.PollLinkRequest, SealpostJsonContext.Default.LinkStatus, ct)!;

    public Task<SessionResponse> RefreshAsync(string refreshToken, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "v1/sessions/refresh", null, new RefreshRequest(refreshToken),
            SealpostJsonContext.Default.RefreshRequest, SealpostJsonContext.Default.SessionResponse, ct)!;

    public async Task LogoutAsync(string accessToken, CancellationToken ct) =>
        await SendAsync<object, object>(HttpMethod.Delete, "v1/sessions/current", accessToken, null, null, null, ct).ConfigureAwait(false);

    public Task<OwnAccount> GetMeAsync(string accessToken, CancellationToken ct) =>
        SendAsync<object, OwnAccount>(HttpMethod.Get, "v1/accounts/me", accessToken, null, null, SealpostJsonContext.Default.OwnAccount, ct)!;

    /// <summary>Publishes a new public key; the server wants the account password too, and ends the account's other sessions.</summary>
    public Task<OwnAccount> RotateKeyAsync(string accessToken, string publicKey, string currentPassword, string? certificate, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "v1/accounts/me/key", accessToken, new RotateKeyRequest(publicKey, currentPassword, certificate),
            SealpostJsonContext.Default.RotateKeyRequest, SealpostJsonContext.Default.OwnAccount, ct)!;

    /// <summary>PATCH /v1/accounts/me with a new password; the server then ends every session of the account, this one too.</summary>
    public Task<OwnAccount> ChangePasswordAsync(string accessToken, string currentPassword, string newPassword, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, "v1/accounts/me", accessToken, new UpdateAccountRequest(null, newPassword, currentPassword),
            SealpostJsonContext.Default.UpdateAccountRequest, SealpostJsonContext.Default.OwnAccount, ct)!;

    public async Task DeleteAccountAsync(string accessToken, string currentPassword, CancellationToken ct) =>
        await SendAsync<DeleteAccountRequest, object>(HttpMethod.Delete, "v1/accounts/me", accessToken, new DeleteAccountRequest(currentPassword),
            SealpostJsonContext.Default.DeleteAccountRequest, null, ct).ConfigureAwait(false);

    public async Task<PublicAccount?> GetAccountAsync(string username, CancellationToken ct)
    {
        var record = await GetOrNullAsync($"v1/accounts/{Uri.EscapeDataString(username)}", ct).ConfigureAwait(false);
        return Matching(record, username, null);
    }

    public async Task<PublicAccount?> GetKeyAsync(string username, uint keyId, CancellationToken ct)
    {
        if (keyId > int.MaxValue) return null;
        var record = await GetOrNullAsync($"v1/accounts/{Uri.EscapeDataString(username)}/keys/{keyId}", ct).ConfigureAwait(false);
        return Matching(record, username, keyId);
    }

    /// <summary>A record for another name or key id than asked is the server lying (or a bug); never pin it.</summary>
    private static PublicAccount? Matching(PublicAccount? record, string username, uint? keyId)
    {
        if (record is null) return null;
        if (record.Username != username || (keyId is { } id && record.KeyId != id))
            throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.WrongRecord, $"The server answered a request for {username}'s key with another account's or key's record.");
        return record;
    }

    private Task<PublicAccount?> GetOrNullAsync(string path, CancellationToken ct) =>
        OrNullAsync(SendAsync<object, PublicAccount>(HttpMethod.Get, path, null, null, null, SealpostJsonContext.Default.PublicAccount, ct));

    private static async Task<T?> OrNullAsync<T>(Task<T?> request) where T : class
    {
        try
        {
            return await request.ConfigureAwait(false);
        }
        catch (SealpostException e) when (e.Kind == ErrorKind.NotFound)
        {
            return null;
        }
    }

    private async Task<TResponse?> SendAsync<TRequest, TResponse>(
        HttpMethod method, string path, string? accessToken, TRequest? body, JsonTypeInfo<TRequest>? requestType,
        JsonTypeInfo<TResponse>? responseType, CancellationToken ct)
        where TResponse : class
    {
        HttpResponseMessage response;
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(method, path);
            if (accessToken is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
            if (body is not null && requestType is not null) request.Content = JsonContent.Create(body, requestType);
            try
            {
                response = await http.SendAsync(request, ct).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (e.InnerException is System.Security.Authentication.AuthenticationException)
            {
                throw new SealpostException(ErrorKind.Network, ClientErrorCodes.CertificateUntrusted,
                    $"The server at {http.BaseAddress} showed a certificate that is not trusted ({e.InnerException.Message}).", e);
            }
            catch (HttpRequestException e)
            {
                throw new SealpostException(ErrorKind.Network, ClientErrorCodes.ServerUnreachable, $"Cannot reach the Sealpost server at {http.BaseAddress}: {e.Message}", e);
            }
            catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new SealpostException(ErrorKind.Network, ClientErrorCodes.ServerTimeout, $"The Sealpost server at {http.BaseAddress} did not answer in time.", e);
            }
            // 503 with a short Retry-After: every password-hashing slot was busy (a flood); the request was not run.
            if (attempt == BusyAttempts || response.StatusCode != HttpStatusCode.ServiceUnavailable
                || response.Headers.RetryAfter?.Delta is not { } wait || wait > TimeSpan.FromSeconds(5))
                break;
            response.Dispose();
            await Task.Delay(wait, ct).ConfigureAwait(false);
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode) throw await ProblemAsync(response, ct).ConfigureAwait(false);
            if (responseType is null || response.StatusCode == HttpStatusCode.NoContent) return null;
            try
            {
                return await response.Content.ReadFromJsonAsync(responseType, ct).ConfigureAwait(false)
                    ?? throw new SealpostException(ErrorKind.Network, ClientErrorCodes.BadServerAnswer, "The server sent an empty answer.");
            }
            catch (JsonException e)
            {
                throw new SealpostException(ErrorKind.Network, ClientErrorCodes.BadServerAnswer, $"The server at {http.BaseAddress} sent an answer that is not Sealpost's JSON.", e);
            }
        }
    }

    /// <summary>Turns an RFC 9457 answer into an exception whose kind follows the status and whose code is the problem type.</summary>
    private static async Task<SealpostException> ProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string? code = null, title = null;
        var fields = new List<string>();
        try
        {
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("type", out var type) && type.GetString() is { } t && t.StartsWith(ProblemPrefix, StringComparison.Ordinal))
                    code = t[ProblemPrefix.Length..];
                if (root.TryGetProperty("title", out var titleElement)) title = titleElement.GetString();
                if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
                {
                    foreach (var field in errors.EnumerateObject())
                    {
                        var messages = field.Value.ValueKind == JsonValueKind.Array
                            ? string.Join(" ", field.Value.EnumerateArray().Select(m => m.GetString()))
                            : field.Value.ToString();
                        // The sentence ends with the bracket, not inside it: "… (password: At least 8 characters)."
                        messages = messages.TrimEnd('.');
                        fields.Add($"{field.Name}: {messages}");
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's error page, say): the status alone tells the kind.
        }
        var status = (int)response.StatusCode;
        var kind = status switch
        {
            400 or 422 => ErrorKind.Invalid,
            401 or 403 => ErrorKind.Auth,
            404 => ErrorKind.NotFound,
            409 or 410 or 413 or 429 => ErrorKind.Refused,
            _ => ErrorKind.Network,
        };
        var message = (title ?? $"The server answered {status} {response.ReasonPhrase}.").TrimEnd('.') + (fields.Count > 0 ? " (" + string.Join("; ", fields) + ")." : ".");
        code ??= status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new SealpostException(kind, code, message) { ServerCode = code };
    }
}
