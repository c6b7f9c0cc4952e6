using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sealpost.Crypto;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Users.Tests;

/// <summary>Linked devices, step 2 (docs/devices.md): the identity key and the device directory, through HTTP.</summary>
[Collection(UsersCollection.Name)]
public sealed class DeviceDirectoryTests(UsersCluster cluster)
{
    private UsersApi Api => cluster.Api;

    private Task<HttpResponseMessage> SetIdentityAsync(TestUser user, IdentityKey identity, byte[] certificate, string? password = null) =>
        Api.SendAsync(HttpMethod.Put, "v1/accounts/me/identity", user.AccessToken, JsonSerializer.Serialize(
            new SetIdentityRequest(Linking.B64(identity.PublicKey), Linking.B64(certificate), password ?? user.Password), SealpostJsonContext.Default.SetIdentityRequest));

    private Task<HttpResponseMessage> RotateAsync(TestUser user, byte[] key, byte[]? certificate) =>
        Api.SendAsync(HttpMethod.Put, "v1/accounts/me/key", user.AccessToken, JsonSerializer.Serialize(
            new RotateKeyRequest(Linking.B64(key), user.Password, certificate is null ? null : Linking.B64(certificate)), SealpostJsonContext.Default.RotateKeyRequest));

    private async Task<DeviceList> DevicesAsync(string username) =>
        (await Api.Http.GetFromJsonAsync($"v1/accounts/{username}/devices", SealpostJsonContext.Default.DeviceList))!;

    [Fact]
    public async Task An_identity_set_once_lists_device_1_with_a_certificate_a_contact_can_verify()
    {
        var user = await Api.NewUserAsync("idk");
        var before = await DevicesAsync(user.Username);
        Assert.Null(before.IdentityKey);
        Assert.Null(Assert.Single(before.Devices).Certificate);

        using var identity = IdentityKey.Generate();
        var certificate = DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 1, 1, user.PublicKey));
        using (var set = await SetIdentityAsync(user, identity, certificate)) await UsersApi.EnsureAsync(set, HttpStatusCode.OK);
        using (var again = await SetIdentityAsync(user, identity, certificate)) await UsersApi.EnsureAsync(again, HttpStatusCode.OK);

        // What a contact does: pin the identity key, verify the device's certificate under it.
        var listed = await DevicesAsync(user.Username);
        var pinned = Linking.Decode(listed.IdentityKey!);
        Assert.Equal(identity.PublicKey, pinned);
        var device = Assert.Single(listed.Devices);
        Assert.Equal((1, 1, Linking.B64(user.PublicKey)), (device.DeviceId, device.KeyId, device.PublicKey));
        Assert.True(DeviceCertificate.Verify(pinned, new DeviceKey(user.Username, 1, 1, user.PublicKey), Linking.Decode(device.Certificate!)));

        // Another identity is refused: the server cannot be asked to swap what contacts pinned.
        using var other = IdentityKey.Generate();
        using var swap = await SetIdentityAsync(user, other, DeviceCertificate.Sign(other, new DeviceKey(user.Username, 1, 1, user.PublicKey)));
        Assert.Equal(HttpStatusCode.Conflict, swap.StatusCode);
        Assert.Equal("urn:sealpost:problem:identity-exists", (await ProblemAsync(swap)).GetProperty("type").GetString());
        Assert.Equal(listed.IdentityKey, (await DevicesAsync(user.Username)).IdentityKey);
    }

    [Fact]
    public async Task A_certificate_that_does_not_verify_or_a_wrong_password_changes_nothing()
    {
        var user = await Api.NewUserAsync("idb");
        using var identity = IdentityKey.Generate();
        using var stranger = IdentityKey.Generate();

        using (var forged = await SetIdentityAsync(user, identity, DeviceCertificate.Sign(stranger, new DeviceKey(user.Username, 1, 1, user.PublicKey))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
            Assert.True((await ProblemAsync(forged)).GetProperty("errors").TryGetProperty("certificate", out _));
        }
        using (var wrongDevice = await SetIdentityAsync(user, identity, DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 2, 1, user.PublicKey))))
            Assert.Equal(HttpStatusCode.BadRequest, wrongDevice.StatusCode);
        using (var wrongPassword = await SetIdentityAsync(user, identity, DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 1, 1, user.PublicKey)), "not the password"))
            Assert.Equal(HttpStatusCode.Forbidden, wrongPassword.StatusCode);
        using (var garbage = await Api.SendAsync(HttpMethod.Put, "v1/accounts/me/identity", user.AccessToken,
            $$"""{"identity_key":"AAAA","certificate":{{"\"" + new string('A', 5000) + "\""}},"current_password":"{{user.Password}}"}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
            var errors = (await ProblemAsync(garbage)).GetProperty("errors");
            Assert.True(errors.TryGetProperty("identity_key", out _) && errors.TryGetProperty("certificate", out _));
        }
        using (var anonymous = await Api.SendAsync(HttpMethod.Put, "v1/accounts/me/identity", null, "{}"))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        Assert.Null((await DevicesAsync(user.Username)).IdentityKey);
    }

    [Fact]
    public async Task Once_there_is_an_identity_every_new_key_comes_with_its_certificate()
    {
        var user = await Api.NewUserAsync("idr");
        using var identity = IdentityKey.Generate();
        using (var set = await SetIdentityAsync(user, identity, DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 1, 1, user.PublicKey))))
            await UsersApi.EnsureAsync(set, HttpStatusCode.OK);
        var next = UsersApi.NewPublicKey();

        using (var bare = await RotateAsync(user, next, null)) Assert.Equal(HttpStatusCode.BadRequest, bare.StatusCode);
        using (var stale = await RotateAsync(user, next, DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 1, 1, next))))
            Assert.Equal(HttpStatusCode.BadRequest, stale.StatusCode);
        Assert.Equal(1, (await Api.LookupAsync(user.Username))!.KeyId);

        var certificate = DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 1, 2, next));
        using (var rotated = await RotateAsync(user, next, certificate)) await UsersApi.EnsureAsync(rotated, HttpStatusCode.OK);

        var device = Assert.Single((await DevicesAsync(user.Username)).Devices);
        Assert.Equal((2, Linking.B64(next)), (device.KeyId, device.PublicKey));
        Assert.True(DeviceCertificate.Verify(identity.PublicKey, new DeviceKey(user.Username, 1, 2, next), Linking.Decode(device.Certificate!)));
        // Without an identity, a certificate is refused rather than stored unverified.
        var plain = await Api.NewUserAsync("idn");
        using var unverifiable = await RotateAsync(plain, UsersApi.NewPublicKey(), new byte[64]);
        Assert.Equal(HttpStatusCode.BadRequest, unverifiable.StatusCode);
    }

    [Fact]
    public async Task The_directory_of_an_unknown_or_malformed_name_is_a_clear_error()
    {
        using var unknown = await Api.Http.GetAsync($"v1/accounts/{TestEnvironment.UniqueUsername("none")}/devices");
        using var malformed = await Api.Http.GetAsync("v1/accounts/%27%3B%20DROP/devices");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
}
