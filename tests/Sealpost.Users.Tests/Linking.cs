using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sealpost.Crypto;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Users.Tests;

/// <summary>A user whose client set an identity key, so it can certify new devices.</summary>
internal sealed record IdentityUser(TestUser User, IdentityKey Identity)
{
    public string Username => User.Username;

    public string AccessToken => User.AccessToken;
}

/// <summary>What the new device keeps while it links: its device key, its one-time link key, the link and its code.</summary>
internal sealed record NewDevice(X25519KeyPair DeviceKey, X25519KeyPair LinkKey, CreatedLink Link, LinkCode Code);

/// <summary>Drives linking (docs/devices.md) over HTTP as the new device and the approving device do.</summary>
internal sealed class Linking(UsersApi api)
{
    public static string B64(byte[] bytes) => AccountRules.EncodePublicKey(bytes);

    public static byte[] Decode(string base64Url) => System.Buffers.Text.Base64Url.DecodeFromChars(base64Url);

    /// <summary>A user registered with an identity key from the start (as every client registers now), logged in.</summary>
    public async Task<IdentityUser> NewUserWithIdentityAsync(string prefix)
    {
        var username = TestEnvironment.UniqueUsername(prefix);
        var key = UsersApi.NewPublicKey();
        var identity = IdentityKey.Generate();
        var certificate = DeviceCertificate.Sign(identity, new DeviceKey(username, 1, 1, key));
        await api.RegisterWithIdentityAsync(username, key, identity.PublicKey, certificate);
        return new IdentityUser(new TestUser(username, UsersApi.DefaultPassword, key, await api.LoginAsync(username)), identity);
    }

    /// <summary>DELETE /v1/accounts/me/devices/{id} with the account password (null: no body at all).</summary>
    public Task<HttpResponseMessage> RemoveRawAsync(string token, object deviceId, string? password = UsersApi.DefaultPassword) =>
        api.SendAsync(HttpMethod.Delete, $"v1/accounts/me/devices/{deviceId}", token,
            password is null ? null : JsonSerializer.Serialize(new RemoveDeviceRequest(password), SealpostJsonContext.Default.RemoveDeviceRequest));

    public Task<HttpResponseMessage> CreateRawAsync(string? deviceName, string? publicKey, string? username) =>
        api.SendAsync(HttpMethod.Post, "v1/links", null,
            JsonSerializer.Serialize(new CreateLinkRequest(deviceName, publicKey, username), SealpostJsonContext.Default.CreateLinkRequest));

    /// <summary>Step 1 and 2: the new device makes its keys, asks for a link to <paramref name="username"/>'s account and shows the code.</summary>
    public async Task<NewDevice> StartAsync(string username, string deviceName = "laptop")
    {
        var deviceKey = X25519KeyPair.Generate();
        var linkKey = X25519KeyPair.Generate();
        using var response = await CreateRawAsync(deviceName, B64(deviceKey.PublicKey.ToArray()), username);
        await UsersApi.EnsureAsync(response, HttpStatusCode.Created);
        var link = (await response.Content.ReadFromJsonAsync(SealpostJsonContext.Default.CreatedLink))!;
        return new NewDevice(deviceKey, linkKey, link, LinkCode.For(username, link.LinkId, linkKey.PublicKey, deviceKey.PublicKey));
    }

    public Task<HttpResponseMessage> FetchRawAsync(string token, string linkId) => api.SendAsync(HttpMethod.Get, $"v1/links/{linkId}", token);

    public async Task<PendingLink> FetchAsync(string token, string linkId)
    {
        using var response = await FetchRawAsync(token, linkId);
        await UsersApi.EnsureAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync(SealpostJsonContext.Default.PendingLink))!;
    }

    public Task<HttpResponseMessage> ApproveRawAsync(string token, string linkId, string? certificate, string? sealedSecret) =>
        api.SendAsync(HttpMethod.Post, $"v1/links/{linkId}/approve", token,
            JsonSerializer.Serialize(new ApproveLinkRequest(certificate, sealedSecret), SealpostJsonContext.Default.ApproveLinkRequest));

    /// <summary>Steps 3 and 4, as the approving device: fetch, check the key against the code, certify, seal, approve.</summary>
    public async Task<HttpResponseMessage> ApproveAsync(IdentityUser approver, NewDevice device, byte[]? payload = null)
    {
        var pending = await FetchAsync(approver.AccessToken, device.Link.LinkId);
        var offered = Decode(pending.PublicKey);
        Assert.True(device.Code.Matches(offered));
        var certificate = DeviceCertificate.Sign(approver.Identity, new DeviceKey(approver.Username, (uint)pending.DeviceId, 1, offered));
        var sealedSecret = LinkSecret.Seal(device.Code, payload ?? "the identity key, the certificate, the contacts"u8);
        return await ApproveRawAsync(approver.AccessToken, device.Link.LinkId, B64(certificate), B64(sealedSecret));
    }

    public Task<HttpResponseMessage> PollRawAsync(string linkId, string? pollToken) =>
        api.SendAsync(HttpMethod.Post, $"v1/links/{linkId}/poll", null, JsonSerializer.Serialize(new PollLinkRequest(pollToken), SealpostJsonContext.Default.PollLinkRequest));

    public async Task<LinkStatus> PollAsync(NewDevice device)
    {
        using var response = await PollRawAsync(device.Link.LinkId, device.Link.PollToken);
        await UsersApi.EnsureAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync(SealpostJsonContext.Default.LinkStatus))!;
    }

    /// <summary>The whole flow: a new device linked to <paramref name="approver"/>'s account; its id and session.</summary>
    public async Task<(int DeviceId, SessionResponse Session, NewDevice Device)> LinkAsync(IdentityUser approver, string deviceName = "laptop")
    {
        var device = await StartAsync(approver.Username, deviceName);
        using (var approved = await ApproveAsync(approver, device)) await UsersApi.EnsureAsync(approved, HttpStatusCode.NoContent);
        var status = await PollAsync(device);
        Assert.Equal(LinkStatus.Approved, status.Status);
        return (status.DeviceId!.Value, status.Session!, device);
    }

    public async Task<OwnDeviceList> OwnDevicesAsync(string token)
    {
        using var response = await api.SendAsync(HttpMethod.Get, "v1/accounts/me/devices", token);
        await UsersApi.EnsureAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync(SealpostJsonContext.Default.OwnDeviceList))!;
    }

    public async Task<DeviceList> PublicDevicesAsync(string username) =>
        (await api.Http.GetFromJsonAsync($"v1/accounts/{username}/devices", SealpostJsonContext.Default.DeviceList))!;

    public Task<HttpResponseMessage> LoginRawAsync(string username, int? deviceId) =>
        api.Http.PostAsJsonAsync("v1/sessions", new LoginRequest(username, UsersApi.DefaultPassword, deviceId), SealpostJsonContext.Default.LoginRequest);

    /// <summary>The <c>dev</c> claim of an access token, as the messages service reads it.</summary>
    public static string? DeviceClaim(string accessToken)
    {
        var payload = JsonDocument.Parse(Decode(accessToken.Split('.')[1])).RootElement;
        return payload.TryGetProperty(TokenClaims.Device, out var dev) ? dev.GetString() : null;
    }

    public static async Task<string?> ProblemTypeAsync(HttpResponseMessage response) =>
        (await AccountTests.ProblemAsync(response)).GetProperty("type").GetString()?.Replace("urn:sealpost:problem:", "", StringComparison.Ordinal);
}
