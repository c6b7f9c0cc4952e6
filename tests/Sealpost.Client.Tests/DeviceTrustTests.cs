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
    public async Task A_first_identity_key_for_a_contact_pinned_without_one_is_a_change_even_when_it_certified_the_pinned_key()
    {
        // Security review H2: anyone can sign someone else's public key, so an identity key that certified bob's pinned
        // key proves nothing about who holds it. On efb149b it carried over silently ("pinned"); now it waits for trust.
        var pinned = _server.Publish("bob");
        await _book.LookupAsync("bob", default);
        using var attackers = IdentityKey.Generate();
        Publish("bob", attackers, Device(attackers, "bob", 1, 1, pinned), Device(attackers, "bob", 2, 1));

        var lookup = await _book.LookupAsync("bob", default);
        var send = await Assert.ThrowsAsync<KeyChangedException>(() => _book.RequireDevicesAsync("bob", null, default));

        Assert.Equal(ContactState.Changed, lookup.State);
        Assert.Null(lookup.IdentityKey);
        Assert.Equal(AccountRules.EncodePublicKey(attackers.PublicKey), lookup.PendingIdentityKey);
        Assert.NotNull(lookup.PendingIdentityFingerprint);
        Assert.Equal(ClientErrorCodes.IdentityKeyChanged, send.Code);
        Assert.Contains("now has an identity key, which you have not accepted", send.Message, StringComparison.Ordinal);
        Assert.Null(_book.Get("bob")!.IdentityKey);
    }

    [Fact]
    public async Task A_device_list_without_the_pinned_identity_key_is_refused_never_sealed_to_as_an_old_account()
    {
        // Security review H3: a server that drops identity_key got a v1 envelope through (replay protection gone).
        using var identity = IdentityKey.Generate();
        var key = _server.Publish("bob");
        Publish("bob", identity, Device(identity, "bob", 1, 1, key));
        await _book.RequireDevicesAsync("bob", null, default);
        _server.Devices.Remove("bob");   // the server shows bob's key, but no identity key and no certificates

        var send = await Assert.ThrowsAsync<KeyChangedException>(() => _book.RequireDevicesAsync("bob", null, default));
        var lookup = await _book.LookupAsync("bob", default);
        var trust = await Assert.ThrowsAsync<KeyChangedException>(() => _book.TrustAsync("bob", default));

        Assert.Equal(ClientErrorCodes.IdentityKeyMissing, send.Code);
        Assert.Contains("never falls back to the older envelope", send.Message, StringComparison.Ordinal);
        Assert.Equal(ContactState.Changed, lookup.State);
        Assert.True(lookup.IdentityMissing);
        Assert.Equal(ClientErrorCodes.IdentityKeyMissing, trust.Code);
        Assert.Equal(AccountRules.EncodePublicKey(identity.PublicKey), _book.Get("bob")!.IdentityKey);
    }

    [Fact]
    public async Task Trust_adopts_only_the_identity_key_that_was_shown()
    {
        // Security review H3: `trust` adopted whatever identity the server showed at that moment.
        using var first = IdentityKey.Generate();
        using var shown = IdentityKey.Generate();
        using var swapped = IdentityKey.Generate();
        Publish("bob", first, Device(first, "bob", 1, 1));
        _server.Publish("bob");
        await _book.RequireDevicesAsync("bob", null, default);
        Publish("bob", shown, Device(shown, "bob", 1, 2));
        var seen = await _book.LookupAsync("bob", default);
        Publish("bob", swapped, Device(swapped, "bob", 1, 3));   // swapped between what the user compared and `trust`

        var again = await Assert.ThrowsAsync<KeyChangedException>(() => _book.TrustAsync("bob", default));
        var trusted = await _book.TrustAsync("bob", default);   // now the swapped one was shown (by the refusal)

        Assert.Equal(AccountRules.EncodePublicKey(shown.PublicKey), seen.PendingIdentityKey);
        Assert.Equal(ClientErrorCodes.KeyChangedAgain, again.Code);
        Assert.Equal(AccountRules.EncodePublicKey(swapped.PublicKey), again.Status.PendingIdentityKey);
        Assert.Equal(AccountRules.EncodePublicKey(first.PublicKey), again.Status.IdentityKey);
        Assert.Equal(AccountRules.EncodePublicKey(swapped.PublicKey), trusted.IdentityKey);
    }

    [Fact]
    public async Task A_new_identity_key_that_certifies_the_same_device_key_is_a_change_with_a_pending_identity()
    {
        // `sealpost lookup` crashed (exit 8) in this state: a change with no pending device key to show.
        using var first = IdentityKey.Generate();
        using var second = IdentityKey.Generate();
        var key = _server.Publish("bob");
        Publish("bob", first, Device(first, "bob", 1, 1, key));
        await _book.LookupAsync("bob", default);
        Publish("bob", second, Device(second, "bob", 1, 1, key));

        var lookup = await _book.LookupAsync("bob", default);

        Assert.Equal(ContactState.Changed, lookup.State);
        Assert.Null(lookup.Pending);
        Assert.Equal(AccountRules.EncodePublicKey(second.PublicKey), lookup.PendingIdentityKey);
    }

    [Fact]
    public async Task An_uncertified_key_in_the_public_record_of_an_identity_contact_changes_nothing()
    {
        // Security review H3, key swap: the server serving a key of its own in /v1/accounts/bob made the contact
        // "changed" with an uncertified key to trust. Only certified devices count for a contact with an identity.
        using var identity = IdentityKey.Generate();
        var key = _server.Publish("bob");
        Publish("bob", identity, Device(identity, "bob", 1, 1, key));
        await _book.LookupAsync("bob", default);
        _server.Keys["bob"][0] = X25519KeyPair.Generate().PublicKey.ToArray();

        var lookup = await _book.LookupAsync("bob", default);

        Assert.Equal(ContactState.Pinned, lookup.State);
        Assert.Null(lookup.Pending);
        Assert.Equal(AccountRules.EncodePublicKey(key), lookup.TrustedPublicKey);
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
