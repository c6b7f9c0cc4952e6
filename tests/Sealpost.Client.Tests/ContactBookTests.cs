using Sealpost.Client.Contacts;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Tests;

/// <summary>The users service's key records, as a test arranges them.</summary>
internal sealed class FakeDirectory : IKeyDirectory
{
    public Dictionary<string, List<byte[]>> Keys { get; } = [];

    public int Fetches { get; private set; }

    /// <summary>Registers or rotates: the new key gets the next key id.</summary>
    public byte[] Publish(string username, byte[]? key = null)
    {
        key ??= X25519KeyPair.Generate().PublicKey.ToArray();
        if (!Keys.TryGetValue(username, out var list)) Keys[username] = list = [];
        list.Add(key);
        return key;
    }

    public Task<PublicAccount?> GetAccountAsync(string username, CancellationToken ct)
    {
        Fetches++;
        return Task.FromResult(Keys.TryGetValue(username, out var list) ? Record(username, list.Count) : null);
    }

    public Task<PublicAccount?> GetKeyAsync(string username, uint keyId, CancellationToken ct)
    {
        Fetches++;
        return Task.FromResult(Keys.TryGetValue(username, out var list) && keyId >= 1 && keyId <= list.Count ? Record(username, (int)keyId) : null);
    }

    /// <summary>Device lists the server publishes; an account without one has its current key as device 1 and no identity.</summary>
    public Dictionary<string, DeviceList> Devices { get; } = [];

    public Task<DeviceList?> GetDevicesAsync(string username, CancellationToken ct) =>
        Task.FromResult(Devices.TryGetValue(username, out var list) ? list
            : Keys.TryGetValue(username, out var keys) ? new DeviceList(username, null, [new PublicDevice(1, keys.Count, AccountRules.EncodePublicKey(keys[^1]), null)])
            : null);

    public Task<PublicDevice?> GetDeviceKeyAsync(string username, uint deviceId, uint keyId, CancellationToken ct) =>
        Task.FromResult(Devices.TryGetValue(username, out var list) ? list.Devices.FirstOrDefault(d => d.DeviceId == deviceId && d.KeyId == keyId) : null);

    private PublicAccount Record(string username, int keyId)
    {
        var key = Keys[username][keyId - 1];
        return new PublicAccount(username, null, AccountRules.EncodePublicKey(key), keyId, DateTimeOffset.UtcNow, Fingerprint.Of(key));
    }
}

public sealed class ContactBookTests : IDisposable
{
    private readonly TempHome _home = new();
    private readonly FakeDirectory _server = new();
    private readonly ContactBook _book;

    public ContactBookTests() => _book = new ContactBook(_home.Profile(), _server);

    public void Dispose() => _home.Dispose();

    [Fact]
    public async Task The_first_lookup_pins_the_key_and_later_ones_match_it()
    {
        var key = _server.Publish("bob");

        var first = await _book.LookupAsync("Bob", default);
        var second = await _book.LookupAsync("bob", default);

        Assert.Equal(ContactState.New, first.State);
        Assert.Equal(ContactState.Pinned, second.State);
        Assert.Equal(key, second.TrustedKey);
        Assert.Equal(1u, second.TrustedKeyId);
        Assert.Equal(Fingerprint.Of(key), second.TrustedFingerprint);
        Assert.Null(second.Pending);
    }

    [Fact]
    public async Task A_changed_key_is_reported_and_refused_until_trusted()
    {
        var old = _server.Publish("bob");
        await _book.LookupAsync("bob", default);
        var rotated = _server.Publish("bob");

        var changed = await _book.LookupAsync("bob", default);
        var refused = await Assert.ThrowsAsync<KeyChangedException>(() => _book.RequireTrustedAsync("bob", default));

        Assert.Equal(ContactState.Changed, changed.State);
        Assert.Equal(old, changed.TrustedKey);
        Assert.Equal(2u, changed.Pending!.KeyId);
        Assert.Equal(Fingerprint.Of(rotated), changed.Pending.Fingerprint);
        Assert.Equal(ErrorKind.KeyChanged, refused.Kind);
        Assert.Contains(Fingerprint.Of(rotated), refused.Message, StringComparison.Ordinal);

        var trusted = await _book.TrustAsync("bob", default);

        Assert.Equal(ContactState.Verified, trusted.State);
        Assert.Equal(rotated, trusted.TrustedKey);
        Assert.Equal(ContactState.Verified, (await _book.RequireTrustedAsync("bob", default)).State);
        // The old key stays, so messages sealed with it still verify.
        Assert.Equal(old, KeyInfo.Decode(_book.Get("bob")!.Keys[1].PublicKey));
    }

    [Fact]
    public async Task A_key_swapped_under_the_same_key_id_is_a_change_too()
    {
        _server.Publish("bob");
        await _book.LookupAsync("bob", default);
        _server.Keys["bob"][0] = X25519KeyPair.Generate().PublicKey.ToArray();

        Assert.Equal(ContactState.Changed, (await _book.LookupAsync("bob", default)).State);
    }

    [Fact]
    public async Task Trust_refuses_a_key_that_changed_again_after_it_was_shown()
    {
        _server.Publish("bob");
        await _book.LookupAsync("bob", default);
        _server.Publish("bob");
        await _book.LookupAsync("bob", default);
        _server.Publish("bob");

        var e = await Assert.ThrowsAsync<SealpostException>(() => _book.TrustAsync("bob", default));

        Assert.Equal(ErrorKind.KeyChanged, e.Kind);
        Assert.Equal(1u, _book.Get("bob")!.TrustedKeyId);
        Assert.Equal(3u, _book.Get("bob")!.Pending!.KeyId);
        Assert.Equal(3u, (await _book.TrustAsync("bob", default)).TrustedKeyId);
    }

    [Fact]
    public async Task A_sender_key_pinned_under_an_id_is_used_even_if_the_server_now_says_otherwise()
    {
        var pinned = _server.Publish("alice");
        await _book.LookupAsync("alice", default);
        _server.Keys["alice"][0] = X25519KeyPair.Generate().PublicKey.ToArray();
        var fetchesBefore = _server.Fetches;

        var key = await _book.ResolveSenderKeyAsync("alice", 1, default);

        Assert.Equal(pinned, key!.PublicKey);
        Assert.True(key.Trusted);
        Assert.Equal(fetchesBefore, _server.Fetches);
    }

    [Fact]
    public async Task A_key_id_older_than_the_pinned_one_is_only_the_servers_word_and_is_never_trusted()
    {
        // A malicious server delivers a message "from alice" under key id 1, below the id 2 the client pinned,
        // sealed with a key of its own, and answers GET /v1/accounts/alice/keys/1 with that key.
        _server.Publish("alice");
        _server.Publish("alice");
        await _book.LookupAsync("alice", default);
        var forged = X25519KeyPair.Generate().PublicKey.ToArray();
        _server.Keys["alice"][0] = forged;

        var first = await _book.ResolveSenderKeyAsync("alice", 1, default);
        var again = await _book.ResolveSenderKeyAsync("alice", 1, default);

        Assert.Equal(forged, first!.PublicKey);
        Assert.False(first.Trusted);
        Assert.Contains("vouched for only by the server", first.Note, StringComparison.Ordinal);
        Assert.False(again!.Trusted);
        Assert.NotNull(again.Note);
        Assert.Equal("server", _book.Get("alice")!.Keys[1].Source);
        Assert.Equal(2u, _book.Get("alice")!.TrustedKeyId);
    }

    [Fact]
    public async Task A_key_id_skipped_between_two_trusted_keys_is_not_trusted_either()
    {
        _server.Publish("alice");
        await _book.LookupAsync("alice", default);
        _server.Publish("alice");
        _server.Publish("alice");
        await _book.TrustAsync("alice", default);

        var skipped = await _book.ResolveSenderKeyAsync("alice", 2, default);
        var first = await _book.ResolveSenderKeyAsync("alice", 1, default);
        var current = await _book.ResolveSenderKeyAsync("alice", 3, default);

        Assert.False(skipped!.Trusted);
        Assert.NotNull(skipped.Note);
        Assert.True(first!.Trusted);
        Assert.True(current!.Trusted);
    }

    [Fact]
    public async Task A_newer_key_than_the_trusted_one_opens_but_is_not_trusted()
    {
        _server.Publish("alice");
        await _book.LookupAsync("alice", default);
        var rotated = _server.Publish("alice");

        var key = await _book.ResolveSenderKeyAsync("alice", 2, default);

        Assert.Equal(rotated, key!.PublicKey);
        Assert.False(key.Trusted);
        Assert.Equal(2u, _book.Get("alice")!.Pending!.KeyId);
        Assert.Equal(1u, _book.Get("alice")!.TrustedKeyId);
    }

    [Fact]
    public async Task A_first_message_from_a_stranger_pins_their_key()
    {
        var key = _server.Publish("carol");

        var resolved = await _book.ResolveSenderKeyAsync("carol", 1, default);

        Assert.Equal(key, resolved!.PublicKey);
        Assert.True(resolved.Trusted);
        Assert.Equal(1u, _book.Get("carol")!.TrustedKeyId);
    }

    [Fact]
    public async Task Unknown_senders_and_key_ids_resolve_to_nothing()
    {
        _server.Publish("alice");

        Assert.Null(await _book.ResolveSenderKeyAsync("nobody", 1, default));
        Assert.Null(await _book.ResolveSenderKeyAsync("alice", 9, default));
    }

    [Fact]
    public async Task Looking_up_an_unknown_account_is_not_found()
    {
        var e = await Assert.ThrowsAsync<SealpostException>(() => _book.LookupAsync("nobody", default));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
    }

    [Fact]
    public async Task An_invalid_username_is_refused_before_asking_the_server()
    {
        var e = await Assert.ThrowsAsync<SealpostException>(() => _book.LookupAsync("no spaces", default));
        Assert.Equal(ErrorKind.Invalid, e.Kind);
        Assert.Equal(0, _server.Fetches);
    }
}
