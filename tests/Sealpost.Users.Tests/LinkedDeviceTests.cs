using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sealpost.Crypto;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Users.Tests;

/// <summary>Linked devices (docs/devices.md): linking a new device, the owner's device list, removing a device, through HTTP.</summary>
[Collection(UsersCollection.Name)]
public sealed class LinkedDeviceTests(UsersCluster cluster)
{
    private UsersApi Api => cluster.Api;

    private Linking Link => new(Api);

    [Fact]
    public async Task A_new_device_links_through_the_code_and_gets_a_certified_device_and_a_session()
    {
        var alice = await Link.NewUserWithIdentityAsync("lnk");
        var laptop = await Link.StartAsync(alice.Username, "Alice's laptop");
        Assert.True(laptop.Link.ExpiresAt > DateTimeOffset.UtcNow.AddMinutes(9) && laptop.Link.ExpiresAt < DateTimeOffset.UtcNow.AddMinutes(11));
        Assert.True(Linking.Decode(laptop.Link.PollToken).Length >= 16);
        Assert.Equal(LinkStatus.Pending, (await Link.PollAsync(laptop)).Status);

        var pending = await Link.FetchAsync(alice.AccessToken, laptop.Link.LinkId);
        Assert.Equal((laptop.Link.LinkId, "Alice's laptop", 2), (pending.LinkId, pending.DeviceName, pending.DeviceId));
        Assert.True(laptop.Code.Matches(Linking.Decode(pending.PublicKey)));
        Assert.Equal(pending, await Link.FetchAsync(alice.AccessToken, laptop.Link.LinkId));   // the same reservation again
        Assert.Equal(LinkStatus.Pending, (await Link.PollAsync(laptop)).Status);

        var secret = "identity key, certificate, contacts"u8.ToArray();
        using (var approved = await Link.ApproveAsync(alice, laptop, secret)) await UsersApi.EnsureAsync(approved, HttpStatusCode.NoContent);
        var status = await Link.PollAsync(laptop);

        Assert.Equal((LinkStatus.Approved, alice.Username, 2), (status.Status, status.Username, status.DeviceId));
        Assert.Equal(secret, LinkSecret.Open(Linking.Decode(status.SealedSecret!), alice.Username, laptop.Link.LinkId, laptop.LinkKey.PrivateKey));
        Assert.Equal("2", Linking.DeviceClaim(status.Session!.AccessToken));
        Assert.Equal("1", Linking.DeviceClaim(alice.AccessToken));

        // The new device's own view, and a refresh keeps its device.
        var own = await Link.OwnDevicesAsync(status.Session.AccessToken);
        Assert.Equal(2, own.CurrentDeviceId);
        Assert.Equal([(1, "device 1"), (2, "Alice's laptop")], own.Devices.Select(d => (d.DeviceId, d.Name)));
        using (var refreshed = await Api.RefreshRawAsync(status.Session.RefreshToken))
        {
            await UsersApi.EnsureAsync(refreshed, HttpStatusCode.OK);
            Assert.Equal("2", Linking.DeviceClaim((await refreshed.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse))!.AccessToken));
        }
        Assert.Equal(1, (await Link.OwnDevicesAsync(alice.AccessToken)).CurrentDeviceId);

        // What a contact does: pin the identity key, verify every device's certificate under it.
        var listed = await Link.PublicDevicesAsync(alice.Username);
        Assert.Equal(alice.Identity.PublicKey, Linking.Decode(listed.IdentityKey!));
        Assert.Equal([1, 2], listed.Devices.Select(d => d.DeviceId));
        foreach (var device in listed.Devices)
        {
            Assert.True(DeviceCertificate.Verify(alice.Identity.PublicKey,
                new DeviceKey(alice.Username, (uint)device.DeviceId, (uint)device.KeyId, Linking.Decode(device.PublicKey)), Linking.Decode(device.Certificate!)));
        }
        Assert.Equal(laptop.DeviceKey.PublicKey.ToArray(), Linking.Decode(listed.Devices[1].PublicKey));
        Assert.Equal(1, listed.Devices[1].KeyId);

        // Used up: once approved and polled, the link is gone for everyone.
        using var pollAgain = await Link.PollRawAsync(laptop.Link.LinkId, laptop.Link.PollToken);
        using var fetchAgain = await Link.FetchRawAsync(alice.AccessToken, laptop.Link.LinkId);
        Assert.Equal((HttpStatusCode.Gone, "link-gone"), (pollAgain.StatusCode, await Linking.ProblemTypeAsync(pollAgain)));
        Assert.Equal(HttpStatusCode.Gone, fetchAgain.StatusCode);
    }

    [Fact]
    public async Task An_expired_link_is_gone_for_fetch_approve_and_poll()
    {
        var alice = await Link.NewUserWithIdentityAsync("lnx");
        var fetched = await Link.StartAsync(alice.Username);
        var pending = await Link.FetchAsync(alice.AccessToken, fetched.Link.LinkId);
        var untouched = await Link.StartAsync(alice.Username);
        await Db.ExecuteAsync(cluster, "UPDATE links SET expires_at = now() - interval '1 second' WHERE id = ANY($1)",
            new[] { Guid.Parse(fetched.Link.LinkId), Guid.Parse(untouched.Link.LinkId) });

        var certificate = DeviceCertificate.Sign(alice.Identity, new DeviceKey(alice.Username, (uint)pending.DeviceId, 1, fetched.DeviceKey.PublicKey.ToArray()));
        using var approve = await Link.ApproveRawAsync(alice.AccessToken, fetched.Link.LinkId, Linking.B64(certificate), Linking.B64(LinkSecret.Seal(fetched.Code, [1])));
        using var poll = await Link.PollRawAsync(fetched.Link.LinkId, fetched.Link.PollToken);
        using var fetch = await Link.FetchRawAsync(alice.AccessToken, untouched.Link.LinkId);

        foreach (var response in new[] { approve, poll, fetch })
            Assert.Equal((HttpStatusCode.Gone, "link-gone"), (response.StatusCode, await Linking.ProblemTypeAsync(response)));
        Assert.Single((await Link.PublicDevicesAsync(alice.Username)).Devices);
    }

    [Fact]
    public async Task A_wrong_poll_token_or_an_unknown_link_is_not_found_and_a_malformed_id_is_a_bad_request()
    {
        var alice = await Link.NewUserWithIdentityAsync("lnw");
        var device = await Link.StartAsync(alice.Username);
        var unknown = Guid.NewGuid().ToString();

        using var wrongToken = await Link.PollRawAsync(device.Link.LinkId, device.Link.PollToken[..^2] + "AA");
        using var unknownPoll = await Link.PollRawAsync(unknown, device.Link.PollToken);
        using var unknownFetch = await Link.FetchRawAsync(alice.AccessToken, unknown);
        foreach (var response in new[] { wrongToken, unknownPoll, unknownFetch })
            Assert.Equal((HttpStatusCode.NotFound, "no-such-link"), (response.StatusCode, await Linking.ProblemTypeAsync(response)));

        foreach (var bad in new[] { "not-a-uuid", "1", "'%20OR%201=1%20--", new string('a', 300), "00000000-0000-0000-0000-00000000000g" })
        {
            using var fetch = await Link.FetchRawAsync(alice.AccessToken, bad);
            using var poll = await Link.PollRawAsync(bad, device.Link.PollToken);
            using var approve = await Link.ApproveRawAsync(alice.AccessToken, bad, Linking.B64(new byte[64]), Linking.B64(new byte[64]));
            foreach (var response in new[] { fetch, poll, approve })
            {
                Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
                Assert.Equal("link_id", AccountTests.FieldOf(await AccountTests.ProblemAsync(response)));
            }
        }
        using var noToken = await Link.PollRawAsync(device.Link.LinkId, null);
        using var hugeToken = await Link.PollRawAsync(device.Link.LinkId, new string('A', 5000));
        Assert.Equal("poll_token", AccountTests.FieldOf(await AccountTests.ProblemAsync(noToken)));
        Assert.Equal("poll_token", AccountTests.FieldOf(await AccountTests.ProblemAsync(hugeToken)));
        using var anonymous = await Api.SendAsync(HttpMethod.Get, $"v1/links/{device.Link.LinkId}");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(LinkStatus.Pending, (await Link.PollAsync(device)).Status);
    }

    /// <summary>
    /// Security review L2: the first account to fetch a link reserved it, so anyone who saw the code could race the
    /// owner and approve with an identity of their own. A link is bound to the account the new device named.
    /// </summary>
    [Fact]
    public async Task A_link_is_bound_to_the_account_it_names_and_another_account_cannot_fetch_or_approve_it_through_haproxy()
    {
        await using var haproxy = await HaproxyProcess.StartAsync([.. cluster.Instances.Select(i => i.Port)], [Ports.Free()]);
        var link = new Linking(new UsersApi(UsersApi.ClientFrom(haproxy.BaseUrl, IPAddress.Parse("127.0.0.10"))));
        var alice = await link.NewUserWithIdentityAsync("sqa");
        var mallory = await link.NewUserWithIdentityAsync("sqm");
        var device = await link.StartAsync(alice.Username);

        using (var squatted = await link.FetchRawAsync(mallory.AccessToken, device.Link.LinkId))
            Assert.Equal((HttpStatusCode.NotFound, "no-such-link"), (squatted.StatusCode, await Linking.ProblemTypeAsync(squatted)));
        using (var approvedByOther = await link.ApproveRawAsync(mallory.AccessToken, device.Link.LinkId,
            Linking.B64(DeviceCertificate.Sign(mallory.Identity, new DeviceKey(mallory.Username, 2, 1, device.DeviceKey.PublicKey.ToArray()))),
            Linking.B64(LinkSecret.Seal(device.Code, [1]))))
            Assert.Equal((HttpStatusCode.NotFound, "no-such-link"), (approvedByOther.StatusCode, await Linking.ProblemTypeAsync(approvedByOther)));

        using (var approved = await link.ApproveAsync(alice, device)) await UsersApi.EnsureAsync(approved, HttpStatusCode.NoContent);
        var status = await link.PollAsync(device);
        Assert.Equal((LinkStatus.Approved, alice.Username, 2), (status.Status, status.Username, status.DeviceId));
        Assert.Single((await link.PublicDevicesAsync(mallory.Username)).Devices);
    }

    [Fact]
    public async Task Approval_needs_a_certificate_that_verifies_an_identity_and_the_account_the_link_names()
    {
        var alice = await Link.NewUserWithIdentityAsync("lna");
        var mallory = await Link.NewUserWithIdentityAsync("lnm");
        var device = await Link.StartAsync(alice.Username);
        var sealedSecret = Linking.B64(LinkSecret.Seal(device.Code, [1, 2, 3]));
        var key = device.DeviceKey.PublicKey.ToArray();

        using (var unfetched = await Link.ApproveRawAsync(alice.AccessToken, device.Link.LinkId,
            Linking.B64(DeviceCertificate.Sign(alice.Identity, new DeviceKey(alice.Username, 2, 1, key))), sealedSecret))
            Assert.Equal((HttpStatusCode.Conflict, "link-not-fetched"), (unfetched.StatusCode, await Linking.ProblemTypeAsync(unfetched)));
        var pending = await Link.FetchAsync(alice.AccessToken, device.Link.LinkId);
        using (var notHis = await Link.FetchRawAsync(mallory.AccessToken, device.Link.LinkId))
            Assert.Equal((HttpStatusCode.NotFound, "no-such-link"), (notHis.StatusCode, await Linking.ProblemTypeAsync(notHis)));
        using (var notHisEither = await Link.ApproveRawAsync(mallory.AccessToken, device.Link.LinkId,
            Linking.B64(DeviceCertificate.Sign(mallory.Identity, new DeviceKey(mallory.Username, 2, 1, key))), sealedSecret))
            Assert.Equal((HttpStatusCode.NotFound, "no-such-link"), (notHisEither.StatusCode, await Linking.ProblemTypeAsync(notHisEither)));

        using var stranger = IdentityKey.Generate();
        var bad = new[]
        {
            DeviceCertificate.Sign(stranger, new DeviceKey(alice.Username, (uint)pending.DeviceId, 1, key)),          // not alice's identity
            DeviceCertificate.Sign(alice.Identity, new DeviceKey(alice.Username, (uint)pending.DeviceId + 1, 1, key)), // another device slot
            DeviceCertificate.Sign(alice.Identity, new DeviceKey(alice.Username, (uint)pending.DeviceId, 2, key)),     // another key id
            DeviceCertificate.Sign(alice.Identity, new DeviceKey(alice.Username, (uint)pending.DeviceId, 1, UsersApi.NewPublicKey())), // a swapped key
        };
        foreach (var certificate in bad)
        {
            using var refused = await Link.ApproveRawAsync(alice.AccessToken, device.Link.LinkId, Linking.B64(certificate), sealedSecret);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("certificate", AccountTests.FieldOf(await AccountTests.ProblemAsync(refused)));
        }
        foreach (var (certificate, secret, field) in new[]
        {
            ("AAAA", sealedSecret, "certificate"), (new string('A', 5000), sealedSecret, "certificate"), (null, sealedSecret, "certificate"),
            (Linking.B64(bad[0]), "not base64!", "sealed_secret"), (Linking.B64(bad[0]), "AAAA", "sealed_secret"), (Linking.B64(bad[0]), null, "sealed_secret"),
            (Linking.B64(bad[0]), Convert.ToBase64String(Enumerable.Repeat((byte)0xfb, 90).ToArray()), "sealed_secret"),
        })
        {
            using var malformed = await Link.ApproveRawAsync(alice.AccessToken, device.Link.LinkId, certificate, secret);
            Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
            Assert.Equal(field, AccountTests.FieldOf(await AccountTests.ProblemAsync(malformed)));
        }
        Assert.Equal(LinkStatus.Pending, (await Link.PollAsync(device)).Status);
        Assert.Single((await Link.PublicDevicesAsync(alice.Username)).Devices);

        // An account without an identity key cannot certify anything.
        var plain = await Api.NewUserAsync("lnp");
        var other = await Link.StartAsync(plain.Username);
        var reserved = await Link.FetchAsync(plain.AccessToken, other.Link.LinkId);
        using var noIdentity = await Link.ApproveRawAsync(plain.AccessToken, other.Link.LinkId, Linking.B64(new byte[64]), Linking.B64(LinkSecret.Seal(other.Code, [1])));
        Assert.Equal((HttpStatusCode.Conflict, "no-identity"), (noIdentity.StatusCode, await Linking.ProblemTypeAsync(noIdentity)));
        Assert.Equal(2, reserved.DeviceId);

        // The right certificate is accepted, and sending it again (a lost answer) changes nothing.
        using (var approved = await Link.ApproveAsync(alice, device)) await UsersApi.EnsureAsync(approved, HttpStatusCode.NoContent);
        var good = DeviceCertificate.Sign(alice.Identity, new DeviceKey(alice.Username, (uint)pending.DeviceId, 1, key));
        using (var again = await Link.ApproveRawAsync(alice.AccessToken, device.Link.LinkId, Linking.B64(good), sealedSecret))
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        Assert.Equal(2, (await Link.PublicDevicesAsync(alice.Username)).Devices.Count);
    }

    [Fact]
    public async Task An_approve_body_may_carry_a_64_KiB_secret_but_not_more()
    {
        var alice = await Link.NewUserWithIdentityAsync("lnb");
        var device = await Link.StartAsync(alice.Username);
        var pending = await Link.FetchAsync(alice.AccessToken, device.Link.LinkId);
        var certificate = Linking.B64(DeviceCertificate.Sign(alice.Identity, new DeviceKey(alice.Username, (uint)pending.DeviceId, 1, device.DeviceKey.PublicKey.ToArray())));

        using (var tooBig = await Link.ApproveRawAsync(alice.AccessToken, device.Link.LinkId, certificate, Linking.B64(new byte[LinkSecret.MaxPayloadSize + 49])))
            Assert.Equal("sealed_secret", AccountTests.FieldOf(await AccountTests.ProblemAsync(tooBig)));
        using (var huge = await Api.SendAsync(HttpMethod.Post, $"v1/links/{device.Link.LinkId}/approve", alice.AccessToken,
            $$"""{"certificate":"{{certificate}}","sealed_secret":"{{new string('A', 200_000)}}"}"""))
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        using (var largest = await Link.ApproveRawAsync(alice.AccessToken, device.Link.LinkId, certificate, Linking.B64(LinkSecret.Seal(device.Code, new byte[LinkSecret.MaxPayloadSize]))))
            await UsersApi.EnsureAsync(largest, HttpStatusCode.NoContent);
        Assert.Equal(LinkSecret.MaxPayloadSize, LinkSecret.Open(Linking.Decode((await Link.PollAsync(device)).SealedSecret!), device.Code.Username, device.Link.LinkId, device.LinkKey.PrivateKey).Length);
    }

    [Fact]
    public async Task An_account_has_at_most_six_devices()
    {
        var alice = await Link.NewUserWithIdentityAsync("lnl");
        var reservedEarly = await Link.StartAsync(alice.Username);
        var early = await Link.FetchAsync(alice.AccessToken, reservedEarly.Link.LinkId);
        var ids = new List<int>();
        for (var i = 2; i <= Limits.DevicesMax; i++) ids.Add((await Link.LinkAsync(alice, $"device {i}")).DeviceId);
        Assert.Equal(Limits.DevicesMax, (await Link.PublicDevicesAsync(alice.Username)).Devices.Count);
        // Device ids are never reused: the early reservation keeps its id, the others follow it.
        Assert.Equal(2, early.DeviceId);
        Assert.Equal(Enumerable.Range(3, Limits.DevicesMax - 1), ids);

        var seventh = await Link.StartAsync(alice.Username);
        using (var fetch = await Link.FetchRawAsync(alice.AccessToken, seventh.Link.LinkId))
            Assert.Equal((HttpStatusCode.Conflict, "too-many-devices"), (fetch.StatusCode, await Linking.ProblemTypeAsync(fetch)));
        using (var approve = await Link.ApproveAsync(alice, reservedEarly))
            Assert.Equal((HttpStatusCode.Conflict, "too-many-devices"), (approve.StatusCode, await Linking.ProblemTypeAsync(approve)));

        using (var removed = await Link.RemoveRawAsync(alice.AccessToken, ids[0]))
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        var (seventhId, _, _) = await Link.LinkAsync(alice, "replacement");
        Assert.Equal(Limits.DevicesMax + 2, seventhId);
    }

    [Fact]
    public async Task A_device_is_renamed_by_its_account_with_its_name_checked()
    {
        var alice = await Link.NewUserWithIdentityAsync("lnr");
        var (laptop, session, _) = await Link.LinkAsync(alice);

        using (var renamed = await Rename(session.AccessToken, "1", "Alice's phone"))
        {
            await UsersApi.EnsureAsync(renamed, HttpStatusCode.OK);
            var device = (await renamed.Content.ReadFromJsonAsync(SealpostJsonContext.Default.OwnDevice))!;
            Assert.Equal((1, "Alice's phone", 1), (device.DeviceId, device.Name, device.KeyId));
        }
        Assert.Equal([(1, "Alice's phone"), (laptop, "laptop")], (await Link.OwnDevicesAsync(alice.AccessToken)).Devices.Select(d => (d.DeviceId, d.Name)));

        foreach (var (id, name, field) in new[]
        {
            ("1", "", "name"), ("1", "   ", "name"), ("1", new string('n', 65), "name"), ("1", new string('n', 100_00), "name"), ("1", "evil\u202Eexe.txt", "name"),
            ("1", "tab\there", "name"), ("0", "ok", "device_id"), ("-1", "ok", "device_id"), ("abc", "ok", "device_id"), ("99999999999", "ok", "device_id"), ("1.5", "ok", "device_id"),
        })
        {
            using var refused = await Rename(alice.AccessToken, id, name);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal(field, AccountTests.FieldOf(await AccountTests.ProblemAsync(refused)));
        }
        using (var noName = await Api.SendAsync(HttpMethod.Patch, "v1/accounts/me/devices/1", alice.AccessToken, "{}"))
            Assert.Equal("name", AccountTests.FieldOf(await AccountTests.ProblemAsync(noName)));
        using (var unknown = await Rename(alice.AccessToken, "42", "ghost"))
            Assert.Equal((HttpStatusCode.NotFound, "no-such-device"), (unknown.StatusCode, await Linking.ProblemTypeAsync(unknown)));
        Assert.Equal(new string('n', 64), (await (await Rename(alice.AccessToken, "1", new string('n', 64))).Content.ReadFromJsonAsync(SealpostJsonContext.Default.OwnDevice))!.Name);
    }

    [Fact]
    public async Task A_removed_device_loses_its_sessions_and_its_place_in_the_directory_but_not_its_keys()
    {
        var alice = await Link.NewUserWithIdentityAsync("lnd");
        var (laptop, session, device) = await Link.LinkAsync(alice);

        using (var self = await Link.RemoveRawAsync(alice.AccessToken, "1"))
            Assert.Equal((HttpStatusCode.Conflict, "current-device"), (self.StatusCode, await Linking.ProblemTypeAsync(self)));
        using (var unknown = await Link.RemoveRawAsync(alice.AccessToken, "42"))
            Assert.Equal((HttpStatusCode.NotFound, "no-such-device"), (unknown.StatusCode, await Linking.ProblemTypeAsync(unknown)));
        using (var malformed = await Link.RemoveRawAsync(alice.AccessToken, "two"))
            Assert.Equal("device_id", AccountTests.FieldOf(await AccountTests.ProblemAsync(malformed)));

        using (var removed = await Link.RemoveRawAsync(alice.AccessToken, laptop))
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);

        using (var token = await Api.SendAsync(HttpMethod.Get, "v1/accounts/me/devices", session.AccessToken))
            Assert.Equal(HttpStatusCode.Unauthorized, token.StatusCode);
        using (var refresh = await Api.RefreshRawAsync(session.RefreshToken))
            Assert.Equal((HttpStatusCode.Unauthorized, "invalid-refresh-token"), (refresh.StatusCode, await Linking.ProblemTypeAsync(refresh)));
        using (var login = await Link.LoginRawAsync(alice.Username, laptop))
            Assert.Equal((HttpStatusCode.NotFound, "no-such-device"), (login.StatusCode, await Linking.ProblemTypeAsync(login)));
        using (var again = await Link.RemoveRawAsync(alice.AccessToken, laptop))
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal([1], (await Link.PublicDevicesAsync(alice.Username)).Devices.Select(d => d.DeviceId));
        Assert.Equal([1], (await Link.OwnDevicesAsync(alice.AccessToken)).Devices.Select(d => d.DeviceId));

        // Messages it sealed still verify: its key stays readable, certificate and all.
        var key = (await Api.Http.GetFromJsonAsync($"v1/accounts/{alice.Username}/devices/{laptop}/keys/1", SealpostJsonContext.Default.PublicDevice))!;
        Assert.Equal(device.DeviceKey.PublicKey.ToArray(), Linking.Decode(key.PublicKey));
        Assert.True(DeviceCertificate.Verify(alice.Identity.PublicKey, new DeviceKey(alice.Username, (uint)laptop, 1, Linking.Decode(key.PublicKey)), Linking.Decode(key.Certificate!)));
        using (var noKey = await Api.Http.GetAsync($"v1/accounts/{alice.Username}/devices/{laptop}/keys/2"))
            Assert.Equal(HttpStatusCode.NotFound, noKey.StatusCode);
        using (var badKey = await Api.Http.GetAsync($"v1/accounts/{alice.Username}/devices/x/keys/-1"))
        {
            var errors = (await AccountTests.ProblemAsync(badKey)).GetProperty("errors");
            Assert.True(errors.TryGetProperty("device_id", out _) && errors.TryGetProperty("key_id", out _));
        }
        // The device that removed it is untouched.
        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", alice.AccessToken)).StatusCode);
    }

    [Fact]
    public async Task Login_names_a_device_or_gets_the_lowest_live_one_which_old_clients_see_as_the_account()
    {
        var alice = await Link.NewUserWithIdentityAsync("lng");
        var (laptop, session, device) = await Link.LinkAsync(alice);

        foreach (var (asked, expected) in new (int?, string)[] { (null, "1"), (1, "1"), (laptop, "2") })
        {
            using var login = await Link.LoginRawAsync(alice.Username, asked);
            await UsersApi.EnsureAsync(login, HttpStatusCode.OK);
            Assert.Equal(expected, Linking.DeviceClaim((await login.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse))!.AccessToken));
        }
        using (var zero = await Link.LoginRawAsync(alice.Username, 0)) Assert.Equal("device_id", AccountTests.FieldOf(await AccountTests.ProblemAsync(zero)));
        using (var wrong = await Api.Http.PostAsJsonAsync("v1/sessions", new LoginRequest(alice.Username, "not the password", 42), SealpostJsonContext.Default.LoginRequest))
            Assert.Equal((HttpStatusCode.Unauthorized, "invalid-credentials"), (wrong.StatusCode, await Linking.ProblemTypeAsync(wrong)));

        // The laptop rotates its own key: certified for its own slot, and device 1 keeps its key and its session.
        var next = UsersApi.NewPublicKey();
        using (var uncertified = await RotateAsync(session.AccessToken, next, DeviceCertificate.Sign(alice.Identity, new DeviceKey(alice.Username, 1, 2, next))))
            Assert.Equal(HttpStatusCode.BadRequest, uncertified.StatusCode);
        using (var rotated = await RotateAsync(session.AccessToken, next, DeviceCertificate.Sign(alice.Identity, new DeviceKey(alice.Username, (uint)laptop, 2, next))))
        {
            await UsersApi.EnsureAsync(rotated, HttpStatusCode.OK);
            Assert.Equal(2, (await rotated.Content.ReadFromJsonAsync(SealpostJsonContext.Default.OwnAccount))!.KeyId);
        }
        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(HttpMethod.Get, "v1/accounts/me", alice.AccessToken)).StatusCode);
        var record = (await Api.LookupAsync(alice.Username))!;
        Assert.Equal((Linking.B64(alice.User.PublicKey), 1), (record.PublicKey, record.KeyId));
        Assert.Equal([(1, 1), (laptop, 2)], (await Link.PublicDevicesAsync(alice.Username)).Devices.Select(d => (d.DeviceId, d.KeyId)));

        // With device 1 removed, the laptop is the account's lowest live device: what old clients see and log in as.
        using (var removed = await Link.RemoveRawAsync(session.AccessToken, "1"))
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        record = (await Api.LookupAsync(alice.Username))!;
        Assert.Equal((Linking.B64(next), 2), (record.PublicKey, record.KeyId));
        Assert.Equal(Linking.B64(device.DeviceKey.PublicKey.ToArray()), (await Api.Http.GetFromJsonAsync($"v1/accounts/{alice.Username}/keys/1", SealpostJsonContext.Default.PublicAccount))!.PublicKey);
        using var plain = await Link.LoginRawAsync(alice.Username, null);
        Assert.Equal("2", Linking.DeviceClaim((await plain.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse))!.AccessToken));
    }

    [Fact]
    public async Task Registration_names_device_1_and_refuses_a_bad_name()
    {
        var username = TestEnvironment.UniqueUsername("lnn");
        using var named = await Api.Http.PostAsJsonAsync("v1/accounts",
            new RegisterRequest(username, UsersApi.DefaultPassword, Linking.B64(UsersApi.NewPublicKey()), null, "work laptop"), SealpostJsonContext.Default.RegisterRequest);
        await UsersApi.EnsureAsync(named, HttpStatusCode.Created);
        var session = await Api.LoginAsync(username);
        Assert.Equal("work laptop", Assert.Single((await Link.OwnDevicesAsync(session.AccessToken)).Devices).Name);

        foreach (var bad in new[] { "", new string('d', 65), new string('d', 10_000), "new\nline" })
        {
            using var refused = await Api.Http.PostAsJsonAsync("v1/accounts",
                new RegisterRequest(TestEnvironment.UniqueUsername("lnn"), UsersApi.DefaultPassword, Linking.B64(UsersApi.NewPublicKey()), null, bad), SealpostJsonContext.Default.RegisterRequest);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("device_name", AccountTests.FieldOf(await AccountTests.ProblemAsync(refused)));
        }
    }

    [Fact]
    public async Task A_link_is_made_only_with_a_device_name_a_usable_key_and_an_account_to_join()
    {
        var key = Linking.B64(X25519KeyPair.Generate().PublicKey.ToArray());
        var alice = (await Api.NewUserAsync("lnc")).Username;
        foreach (var (name, publicKey, username, field) in new (string?, string?, string?, string)[]
        {
            (null, key, alice, "device_name"), ("", key, alice, "device_name"), (new string('n', 65), key, alice, "device_name"), (new string('n', 20_000), key, alice, "body"),
            ("bad\u0000name", key, alice, "device_name"), ("laptop", null, alice, "public_key"), ("laptop", "not base64!", alice, "public_key"), ("laptop", "AAAA", alice, "public_key"),
            ("laptop", Linking.B64(new byte[32]), alice, "public_key"), ("laptop", new string('A', 5000), alice, "public_key"),
            ("laptop", key, null, "username"), ("laptop", key, "a", "username"), ("laptop", key, "alice; DROP TABLE links", "username"),
        })
        {
            using var refused = await Link.CreateRawAsync(name, publicKey, username);
            if (field == "body")
            {
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
                continue;
            }
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal(field, AccountTests.FieldOf(await AccountTests.ProblemAsync(refused)));
        }
        using (var nobody = await Link.CreateRawAsync("laptop", key, TestEnvironment.UniqueUsername("nobody")))
            Assert.Equal((HttpStatusCode.NotFound, "not-found"), (nobody.StatusCode, await Linking.ProblemTypeAsync(nobody)));
        using var notJson = await Api.SendAsync(HttpMethod.Post, "v1/links", null, "{", "application/json");
        Assert.Equal("body", AccountTests.FieldOf(await AccountTests.ProblemAsync(notJson)));
    }

    private Task<HttpResponseMessage> Rename(string token, string deviceId, string name) =>
        Api.SendAsync(HttpMethod.Patch, $"v1/accounts/me/devices/{deviceId}", token,
            JsonSerializer.Serialize(new RenameDeviceRequest(name), SealpostJsonContext.Default.RenameDeviceRequest));

    private Task<HttpResponseMessage> RotateAsync(string token, byte[] key, byte[] certificate) =>
        Api.SendAsync(HttpMethod.Put, "v1/accounts/me/key", token, JsonSerializer.Serialize(
            new RotateKeyRequest(Linking.B64(key), UsersApi.DefaultPassword, Linking.B64(certificate)), SealpostJsonContext.Default.RotateKeyRequest));
}
