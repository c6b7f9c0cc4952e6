using Sealpost.Cli;
using Sealpost.Client.Accounts;
using Sealpost.Client.Contacts;
using Sealpost.Client.Messaging;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Tests;

/// <summary>
/// The SDK names a failure by its code and the CLI says it: each sentence here is the one the CLI printed when the SDK
/// still wrote the hints into its exceptions, so moving the words changed nothing a person or a script sees.
/// </summary>
public sealed class HintsTests : IDisposable
{
    private static readonly LocalAccount Alice = new("alice", "http://127.0.0.1:8080/", 2, 3, null, new DateTimeOffset(2026, 1, 2, 23, 30, 0, TimeSpan.FromHours(-2)));
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void A_profile_that_cannot_do_what_was_asked_is_told_which_command_to_run()
    {
        Assert.Equal("Profile 'work' has no account yet: run 'sealpost register <username>' or 'sealpost login <username>'.",
            Hints.Say(new ProfileException(ErrorKind.Auth, ClientErrorCodes.NoAccount, "work", null, "-")));
        Assert.Equal("The account alice was deleted on 2026-01-03; profile 'work' only keeps its keys and history. Register anew with another --profile.",
            Hints.Say(new ProfileException(ErrorKind.Auth, ClientErrorCodes.AccountDeleted, "work", Alice, "-")));
        Assert.Equal("Profile 'work' already holds the account alice; use another --profile.",
            Hints.Say(new ProfileException(ErrorKind.Invalid, ClientErrorCodes.ProfileHasAccount, "work", Alice, "-")));
        Assert.Equal("Profile 'work' belongs to alice; use another --profile for bob.",
            Hints.Say(new ProfileException(ErrorKind.Invalid, ClientErrorCodes.ProfileOfAnotherAccount, "work", Alice, "-") { Username = "bob" }));
        Assert.Equal("Profile 'work' holds no key of alice's device 2, so it cannot read messages, and reading here would take them from the device " +
                     "that can. Link this machine instead: 'sealpost link' here, then 'sealpost link accept <code>' on a device of alice.",
            Hints.Say(new ProfileException(ErrorKind.Crypto, ClientErrorCodes.NoDeviceKey, "work", Alice, "-")));
    }

    [Fact]
    public void Session_failures_say_to_log_in_and_an_untrusted_certificate_says_how_to_trust_one()
    {
        Assert.Equal("You are not logged in: run 'sealpost login <username>'.", Hints.Say(new SealpostException(ErrorKind.Auth, ClientErrorCodes.NotLoggedIn, "-")));
        Assert.Equal("Your session has ended: run 'sealpost login <username>' again.", Hints.Say(new SealpostException(ErrorKind.Auth, ClientErrorCodes.SessionEnded, "-")));
        Assert.Equal("The messages service refused the session: run 'sealpost login <username>' again.",
            Hints.Say(new SealpostException(ErrorKind.Auth, ClientErrorCodes.SessionRefused, "-")));
        Assert.Equal("The server at https://x/ showed a certificate that is not trusted (bad chain). If it is a server's own certificate (scripts/up prints its), " +
                     "trust that one with --server-certificate FILE or $SEALPOST_SERVER_CERTIFICATE.",
            Hints.Say(new SealpostException(ErrorKind.Network, ClientErrorCodes.CertificateUntrusted, "The server at https://x/ showed a certificate that is not trusted (bad chain).")));
        Assert.Equal("The server refused the message (mailbox_full): Full.",
            Hints.Say(new SealpostException(ErrorKind.Refused, "mailbox_full", "The server refused the message (mailbox_full): Full.") { ServerCode = "mailbox_full" }));
    }

    [Fact]
    public async Task A_changed_key_says_to_compare_and_trust()
    {
        var server = new FakeDirectory();
        var book = new ContactBook(_home.Profile(), server);
        var pinned = server.Publish("bob");
        await book.LookupAsync("bob", default);
        var rotated = server.Publish("bob");

        var changed = await Assert.ThrowsAsync<KeyChangedException>(() => book.RequireTrustedAsync("bob", default));

        Assert.Equal(ClientErrorCodes.KeyChanged, changed.Code);
        Assert.Equal($"The key of bob has changed (pinned key id 1, fingerprint {Fingerprint.Of(pinned)}; now key id 2, fingerprint {Fingerprint.Of(rotated)}). " +
                     "Compare fingerprints with them, then run 'sealpost trust bob'.", Hints.Say(changed));
    }

    [Fact]
    public async Task A_changed_identity_key_says_to_compare_safety_numbers_and_trust()
    {
        var server = new FakeDirectory();
        var book = new ContactBook(_home.Profile(), server);
        using var first = IdentityKey.Generate();
        using var second = IdentityKey.Generate();
        server.Devices["bob"] = Devices(first);
        await book.RequireDevicesAsync("bob", null, default);
        server.Devices["bob"] = Devices(second);

        var changed = await Assert.ThrowsAsync<KeyChangedException>(() => book.RequireDevicesAsync("bob", null, default));

        Assert.Equal(ClientErrorCodes.IdentityKeyChanged, changed.Code);
        Assert.Equal($"The identity key of bob has changed (pinned {Fingerprint.Of(first.PublicKey)}; now {Fingerprint.Of(second.PublicKey)}). " +
                     "Compare safety numbers with them, then run 'sealpost trust bob'.", Hints.Say(changed));

        static DeviceList Devices(IdentityKey identity)
        {
            var key = X25519KeyPair.Generate().PublicKey.ToArray();
            var certificate = DeviceCertificate.Sign(identity, new DeviceKey("bob", 1, 1, key));
            return new DeviceList("bob", AccountRules.EncodePublicKey(identity.PublicKey),
                [new PublicDevice(1, 1, AccountRules.EncodePublicKey(key), AccountRules.EncodePublicKey(certificate))]);
        }
    }

    [Fact]
    public void The_json_error_carries_the_servers_code_and_account_deleted_as_before()
    {
        Assert.Equal("unauthorized", Hints.ServerCodeOf(new SealpostException(ErrorKind.Auth, ClientErrorCodes.SessionRefused, "-") { ServerCode = "unauthorized" }));
        Assert.Equal("account-deleted", Hints.ServerCodeOf(new ProfileException(ErrorKind.Auth, ClientErrorCodes.AccountDeleted, "work", Alice, "-")));
        Assert.Null(Hints.ServerCodeOf(new SealpostException(ErrorKind.Auth, ClientErrorCodes.NotLoggedIn, "-")));
        Assert.Equal("link-gone", Hints.ServerCodeOf(new CliException(ErrorKind.Refused, "-") { ServerCode = "link-gone" }));
    }

    [Fact]
    public void Connection_events_are_said_as_before()
    {
        var unreachable = new SealpostException(ErrorKind.Network, ClientErrorCodes.SocketUnreachable, "Cannot open the message socket at ws://127.0.0.1:1/v1/ws: HTTP 502");

        Assert.Equal("Reconnected.", Notices.Reconnected);
        Assert.Equal("The connection closed (1001, server going away: instance stopping); reconnecting in 2 s.",
            Notices.Reconnecting(new ConnectionLost(1001, "instance stopping", null, TimeSpan.FromSeconds(2))));
        Assert.Equal("The connection closed (dropped); reconnecting in 0.5 s.", Notices.Reconnecting(new ConnectionLost(null, null, null, TimeSpan.FromMilliseconds(500))));
        Assert.Equal("The connection closed (4401); reconnecting in 0.1 s.", Notices.Reconnecting(new ConnectionLost(4401, null, null, TimeSpan.FromMilliseconds(120))));
        Assert.Equal("Cannot reach the messages service (Cannot open the message socket at ws://127.0.0.1:1/v1/ws: HTTP 502); trying again in 1.5 s.",
            Notices.Reconnecting(new ConnectionLost(null, null, unreachable, TimeSpan.FromSeconds(1.5))));
    }

    [Fact]
    public void Warnings_are_said_as_before()
    {
        var ended = new SealpostException(ErrorKind.Auth, ClientErrorCodes.SessionEnded, "Your session has ended.");
        var unreachable = new SealpostException(ErrorKind.Network, ClientErrorCodes.ServerUnreachable, "Cannot reach the Sealpost server at http://127.0.0.1:1/: refused");

        Assert.Equal("The devices of bob or of your account changed while sending; sealing again for the current ones.",
            Notices.Warning(new MessagingWarning.SendRetrying("bob", ErrorCodes.StaleDevices)));
        Assert.Equal("The server answered rate_limited; trying again.", Notices.Warning(new MessagingWarning.SendRetrying("bob", ErrorCodes.RateLimited)));
        Assert.Equal("Message m1 from alice cannot be checked now (Cannot reach the Sealpost server at http://127.0.0.1:1/: refused); it stays on the server for later.",
            Notices.Warning(new MessagingWarning.MessageDeferred("m1", "alice", unreachable)));
        Assert.Equal("Could not renew the access token: Your session has ended: run 'sealpost login <username>' again.",
            Notices.Warning(new MessagingWarning.TokenNotRenewed(ended)));
        Assert.Equal("The server sent a frame that is not valid JSON; ignored.", Notices.Warning(new MessagingWarning.UnreadableFrame()));
        Assert.Equal("The server reported bad_frame: No such frame type.", Notices.Warning(new MessagingWarning.ServerReported("bad_frame", "No such frame type.")));
    }
}
