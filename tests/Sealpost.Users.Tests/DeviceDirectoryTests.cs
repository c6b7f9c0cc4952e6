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

    private Task<HttpResponseMessage> SetIdentityAsync(TestUser user, IdentityKey identity, byte[]? key, byte[] certificate, string? password = null) =>
        Api.SendAsync(HttpMethod.Put, "v1/accounts/me/identity", user.AccessToken, JsonSerializer.Serialize(
            new SetIdentityRequest(Linking.B64(identity.PublicKey), Linking.B64(certificate), password ?? user.Password, key is null ? null : Linking.B64(key)),
            SealpostJsonContext.Default.SetIdentityRequest));

    private Task<HttpResponseMessage> RotateAsync(TestUser user, byte[] key, byte[]? certificate) =>
        Api.SendAsync(HttpMethod.Put, "v1/accounts/me/key", user.AccessToken, JsonSerializer.Serialize(
            new RotateKeyRequest(Linking.B64(key), user.Password, certificate is null ? null : Linking.B64(certificate)), SealpostJsonContext.Default.RotateKeyRequest));

    private async Task<DeviceList> DevicesAsync(string username) =>
        (await Api.Http.GetFromJsonAsync($"v1/accounts/{username}/devices", SealpostJsonContext.Default.DeviceList))!;

    [Fact]
    public async Task A_first_identity_comes_with_a_new_key_it_certifies_and_never_binds_the_key_from_before()
    {
        var user = await Api.NewUserAsync("idk");
        var before = await DevicesAsync(user.Username);
        Assert.Null(before.IdentityKey);
        Assert.Null(Assert.Single(before.Devices).Certificate);
        using var identity = IdentityKey.Generate();

        // Security review H2: certifying the key the account already had (anyone can sign a public key) is refused.
        using (var old = await SetIdentityAsync(user, identity, null, DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 1, 1, user.PublicKey))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, old.StatusCode);
            Assert.True((await ProblemAsync(old)).GetProperty("errors").TryGetProperty("public_key", out _));
        }
        using (var same = await SetIdentityAsync(user, identity, user.PublicKey, DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 1, 2, user.PublicKey))))
            Assert.Equal(HttpStatusCode.BadRequest, same.StatusCode);
        Assert.Null((await DevicesAsync(user.Username)).IdentityKey);

        var next = UsersApi.NewPublicKey();
        var certificate = DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 1, 2, next));
        using (var set = await SetIdentityAsync(user, identity, next, certificate)) await UsersApi.EnsureAsync(set, HttpStatusCode.OK);
        using (var again = await SetIdentityAsync(user, identity, next, certificate)) await UsersApi.EnsureAsync(again, HttpStatusCode.OK);

        // What a contact does: pin the identity key, verify the device's certificate under it.
        var listed = await DevicesAsync(user.Username);
        var pinned = Linking.Decode(listed.IdentityKey!);
        Assert.Equal(identity.PublicKey, pinned);
        var device = Assert.Single(listed.Devices);
        Assert.Equal((1, 2, Linking.B64(next)), (device.DeviceId, device.KeyId, device.PublicKey));
        Assert.True(DeviceCertificate.Verify(pinned, new DeviceKey(user.Username, 1, 2, next), Linking.Decode(device.Certificate!)));

        // Another identity is refused: the server cannot be asked to swap what contacts pinned.
        using var other = IdentityKey.Generate();
        var third = UsersApi.NewPublicKey();
        using var swap = await SetIdentityAsync(user, other, third, DeviceCertificate.Sign(other, new DeviceKey(user.Username, 1, 2, third)));
        Assert.Equal(HttpStatusCode.Conflict, swap.StatusCode);
        Assert.Equal("urn:sealpost:problem:identity-exists", (await ProblemAsync(swap)).GetProperty("type").GetString());
        Assert.Equal(listed.IdentityKey, (await DevicesAsync(user.Username)).IdentityKey);
    }

    [Fact]
    public async Task A_registration_with_an_identity_lists_device_1_certified_and_a_bad_certificate_creates_nothing()
    {
        using var identity = IdentityKey.Generate();
        var name = TestEnvironment.UniqueUsername("idg");
        var key = UsersApi.NewPublicKey();
        using (var bad = await Api.Http.PostAsJsonAsync("v1/accounts", new RegisterRequest(name, UsersApi.DefaultPassword, Linking.B64(key), null, null,
                   Linking.B64(identity.PublicKey), Linking.B64(DeviceCertificate.Sign(identity, new DeviceKey(name, 1, 2, key)))), SealpostJsonContext.Default.RegisterRequest))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.True((await ProblemAsync(bad)).GetProperty("errors").TryGetProperty("certificate", out _));
        }
        Assert.Null(await Api.LookupAsync(name));

        var user = await new Linking(Api).NewUserWithIdentityAsync("idg");

        var listed = await DevicesAsync(user.Username);
        Assert.Equal(Linking.B64(user.Identity.PublicKey), listed.IdentityKey);
        var device = Assert.Single(listed.Devices);
        Assert.True(DeviceCertificate.Verify(user.Identity.PublicKey, new DeviceKey(user.Username, 1, 1, user.User.PublicKey), Linking.Decode(device.Certificate!)));
    }

    [Fact]
    public async Task A_certificate_that_does_not_verify_or_a_wrong_password_changes_nothing()
    {
        var user = await Api.NewUserAsync("idb");
        using var identity = IdentityKey.Generate();
        using var stranger = IdentityKey.Generate();
        var next = UsersApi.NewPublicKey();

        using (var forged = await SetIdentityAsync(user, identity, next, DeviceCertificate.Sign(stranger, new DeviceKey(user.Username, 1, 2, next))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
            Assert.True((await ProblemAsync(forged)).GetProperty("errors").TryGetProperty("certificate", out _));
        }
        using (var wrongSlot = await SetIdentityAsync(user, identity, next, DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 1, 1, next))))
            Assert.Equal(HttpStatusCode.BadRequest, wrongSlot.StatusCode);
        using (var wrongPassword = await SetIdentityAsync(user, identity, next, DeviceCertificate.Sign(identity, new DeviceKey(user.Username, 1, 2, next)), "not the password"))
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
        Assert.Equal(1, (await Api.LookupAsync(user.Username))!.KeyId);
    }

    [Fact]
    public async Task Once_there_is_an_identity_every_new_key_comes_with_its_certificate()
    {
        var (user, identity) = await new Linking(Api).NewUserWithIdentityAsync("idr");
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
