using Sealpost.Client.Contacts;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Tests;

/// <summary>
/// Which devices a sender seals to (docs/devices.md): only those whose certificate verifies under the identity key
/// pinned for the account. Pure logic over a fake directory; the end-to-end cases are in the system tests.
/// </summary>
public sealed class DeviceTrustTests : IDisposable
{
    private readonly TempHome _home = new();
    private readonly FakeDirectory _server = new();
    private readonly ContactBook _book;

    public DeviceTrustTests() => _book = new ContactBook(_home.Profile(), _server);

    public void Dispose() => _home.Dispose();

    private static PublicDevice Device(IdentityKey signer, string username, uint deviceId, uint keyId, byte[]? key = null)
    {
        key ??= X25519KeyPair.Generate().PublicKey.ToArray();
        var certificate = DeviceCertificate.Sign(signer, new DeviceKey(username, deviceId, keyId, key));
        return new PublicDevice((int)deviceId, (int)keyId, AccountRules.EncodePublicKey(key), AccountRules.EncodePublicKey(certificate));
    }

    private void Publish(string username, IdentityKey identity, params PublicDevice[] devices) =>
        _server.Devices[username] = new DeviceList(username, AccountRules.EncodePublicKey(identity.PublicKey), devices);

    [Fact]
    public async Task The_identity_key_is_pinned_on_first_use_and_every_signed_device_is_sealed_to()
    {
        using var identity = IdentityKey.Generate();
        Publish("bob", identity, Device(identity, "bob", 1, 3), Device(identity, "bob", 2, 1));

        var devices = await _book.RequireDevicesAsync("bob", null, default);

        Assert.Equal([1u, 2u], devices!.Select(d => d.DeviceId));
        Assert.Equal(AccountRules.EncodePublicKey(identity.PublicKey), _book.Get("bob")!.IdentityKey);
    }

    [Fact]
    public async Task A_device_the_identity_key_did_not_sign_is_refused_with_a_clear_message()
    {
        using var identity = IdentityKey.Generate();
        using var server = IdentityKey.Generate();
        Publish("bob", identity, Device(identity, "bob", 1, 1));
        await _book.RequireDevicesAsync("bob", null, default);
        // The server lists a device of its own: signed by a key of its own, or not at all.
        Publish("bob", identity, Device(identity, "bob", 1, 1), Device(server, "bob", 2, 1));

        var ghost = await Assert.ThrowsAsync<SealpostException>(() => _book.RequireDevicesAsync("bob", null, default));
        var unsigned = _server.Devices["bob"] with { Devices = [Device(identity, "bob", 1, 1), Device(identity, "bob", 3, 1) with { Certificate = null }] };
        _server.Devices["bob"] = unsigned;
        var bare = await Assert.ThrowsAsync<SealpostException>(() => _book.RequireDevicesAsync("bob", null, default));

        Assert.Equal(ErrorKind.Crypto, ghost.Kind);
        Assert.Contains("bob's device 2 is not signed by bob's identity key", ghost.Message, StringComparison.Ordinal);
        Assert.Contains("bob's device 3 is not signed", bare.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_for_another_account_or_device_slot_does_not_verify()
    {
        using var identity = IdentityKey.Generate();
        var key = X25519KeyPair.Generate().PublicKey.ToArray();
        var movedDevice = Device(identity, "bob", 2, 1, key) with { DeviceId = 5 };
        var movedAccount = Device(identity, "carol", 1, 1, key);
        Publish("bob", identity, movedDevice);
        Publish("dave", identity, movedAccount);

        await Assert.ThrowsAsync<SealpostException>(() => _book.RequireDevicesAsync("bob", null, default));
        await Assert.ThrowsAsync<SealpostException>(() => _book.RequireDevicesAsync("dave", null, default));
    }

    [Fact]
    public async Task A_new_identity_key_blocks_sending_until_the_user_trusts_it()
    {
        using var first = IdentityKey.Generate();
        using var second = IdentityKey.Generate();
        Publish("bob", first, Device(first, "bob", 1, 1));
        _server.Publish("bob");
        await _book.RequireDevicesAsync("bob", null, default);
        Publish("bob", second, Device(second, "bob", 1, 2));

        var changed = await Assert.ThrowsAsync<KeyChangedException>(() => _book.RequireDevicesAsync("bob", null, default));
        await _book.TrustAsync("bob", default);
        var devices = await _book.RequireDevicesAsync("bob", null, default);

        Assert.Equal(ErrorKind.KeyChanged, changed.Kind);
        Assert.Single(devices!);
        Assert.Equal(AccountRules.EncodePublicKey(second.PublicKey), _book.Get("bob")!.IdentityKey);
    }

    [Fact]
    public async Task A_contact_pinned_before_it_had_an_identity_key_carries_over_only_if_the_identity_signed_the_pinned_key()
    {
        var pinned = _server.Publish("bob");
        var other = _server.Publish("carol");
        await _book.LookupAsync("bob", default);
        await _book.LookupAsync("carol", default);
        using var bobs = IdentityKey.Generate();
        using var forged = IdentityKey.Generate();
        Publish("bob", bobs, Device(bobs, "bob", 1, 1, pinned));
        // carol's account suddenly shows an identity that certifies a key nobody pinned: that is a key change.
        Publish("carol", forged, Device(forged, "carol", 1, 2));

        Assert.Single((await _book.RequireDevicesAsync("bob", null, default))!);
        var carol = await Assert.ThrowsAsync<KeyChangedException>(() => _book.RequireDevicesAsync("carol", null, default));

        Assert.Equal(ErrorKind.KeyChanged, carol.Kind);
        Assert.Equal(ClientErrorCodes.IdentityKeyChanged, carol.Code);
        Assert.Null(carol.Status.IdentityKey);
        Assert.NotNull(other);
    }

    [Fact]
    public async Task An_account_without_an_identity_key_is_sealed_to_as_before()
    {
        _server.Publish("bob");

        Assert.Null(await _book.RequireDevicesAsync("bob", null, default));
    }

    [Fact]
    public async Task A_sender_device_key_is_trusted_only_if_its_certificate_verifies()
    {
        using var identity = IdentityKey.Generate();
        using var server = IdentityKey.Generate();
        Publish("bob", identity, Device(identity, "bob", 1, 1), Device(server, "bob", 2, 1));

        var (good, _) = await _book.ResolveDeviceKeyAsync("bob", 1, 1, null, default);
        var (ghost, why) = await _book.ResolveDeviceKeyAsync("bob", 2, 1, null, default);

        Assert.True(good!.Trusted);
        Assert.Null(ghost);
        Assert.Contains("not signed by bob's identity key", why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_from_a_new_identity_opens_but_is_not_trusted_until_the_user_says_so()
    {
        using var first = IdentityKey.Generate();
        using var second = IdentityKey.Generate();
        Publish("bob", first, Device(first, "bob", 1, 1));
        await _book.RequireDevicesAsync("bob", null, default);
        Publish("bob", second, Device(second, "bob", 1, 2));

        var (key, _) = await _book.ResolveDeviceKeyAsync("bob", 1, 2, null, default);

        Assert.False(key!.Trusted);
        Assert.Contains("identity key changed", key.Note, StringComparison.Ordinal);
    }
}
