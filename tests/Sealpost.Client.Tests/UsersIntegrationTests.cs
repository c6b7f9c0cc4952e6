using System.Text.Json;
using Sealpost.Cli;
using Sealpost.Client.Storage;
using Sealpost.Testing;

namespace Sealpost.Client.Tests;

/// <summary>Two real users instances on one PostgreSQL database, shared by the tests of this collection.</summary>
[CollectionDefinition(Name)]
public sealed class UsersServiceCollection : ICollectionFixture<UsersCluster>
{
    public const string Name = "client-users";
}

/// <summary>The CLI and SDK against the real users service: accounts, sessions, pinning and key rotation.</summary>
[Collection(UsersServiceCollection.Name)]
public sealed class UsersIntegrationTests(UsersCluster cluster) : IDisposable
{
    private readonly List<TempHome> _homes = [];

    private string Server => cluster.Instances[0].BaseAddress.ToString();

    public void Dispose()
    {
        foreach (var home in _homes) home.Dispose();
    }

    private (CliRunner Cli, TempHome Home) NewDevice()
    {
        var home = new TempHome();
        _homes.Add(home);
        return (new CliRunner(home.Path, Server), home);
    }

    private async Task<(CliRunner Cli, TempHome Home, string Name)> RegisteredAsync(string prefix)
    {
        var (cli, home) = NewDevice();
        var name = TestEnvironment.UniqueUsername(prefix);
        await cli.ExpectAsync(ExitCodes.Ok, "register", name, "--display-name", "Test " + prefix);
        return (cli, home, name);
    }

    [Fact]
    public async Task Register_keeps_the_private_key_here_and_logs_in_whoami_and_logout_follow()
    {
        var (cli, home, name) = await RegisteredAsync("reg");
        var profile = home.Profile();

        var whoami = await cli.ExpectAsync(ExitCodes.Ok, "whoami", "--json");
        using var me = JsonDocument.Parse(whoami.Out);
        Assert.Equal(name, me.RootElement.GetProperty("username").GetString());
        Assert.True(me.RootElement.GetProperty("local_key_matches").GetBoolean());

        Assert.True(File.Exists(profile.KeyFile(1)));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(profile.KeyFile(1)));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(profile.SessionFile));
        }
        foreach (var file in Directory.GetFiles(home.Path, "*", SearchOption.AllDirectories))
        {
            var text = File.ReadAllText(file);
            Assert.DoesNotContain(CliRunner.Password, text, StringComparison.Ordinal);
            Assert.DoesNotContain(CliRunner.Passphrase, text, StringComparison.Ordinal);
        }

        await cli.ExpectAsync(ExitCodes.Ok, "logout");
        Assert.False(File.Exists(profile.SessionFile));
        await cli.ExpectAsync(ExitCodes.Auth, "whoami");
        await cli.ExpectAsync(ExitCodes.Ok, "login", name);
        await cli.ExpectAsync(ExitCodes.Ok, "whoami");
    }

    [Fact]
    public async Task A_taken_name_exits_7_and_leaves_no_key_behind()
    {
        var (_, _, name) = await RegisteredAsync("taken");
        var (second, home) = NewDevice();

        var result = await second.ExpectAsync(ExitCodes.Refused, "register", name);

        Assert.Contains("taken", result.Error, StringComparison.OrdinalIgnoreCase);
        // Not even an empty profile folder is left.
        Assert.False(Directory.Exists(home.Profile().Root));
    }

    [Fact]
    public async Task Wrong_password_exits_3_and_unknown_contact_exits_5()
    {
        var (_, _, name) = await RegisteredAsync("pw");
        var (cli, _) = NewDevice();
        cli.Environment["SEALPOST_PASSWORD"] = "not the password";

        await cli.ExpectAsync(ExitCodes.Auth, "login", name);
        await cli.ExpectAsync(ExitCodes.NotFound, "lookup", TestEnvironment.UniqueUsername("nobody"));
    }

    [Fact]
    public async Task A_rotated_key_certified_by_the_identity_key_is_taken_without_a_key_change()
    {
        var (alice, _, _) = await RegisteredAsync("alice");
        var (bob, bobHome, bobName) = await RegisteredAsync("bob");

        Assert.Contains("Pinned now", (await alice.ExpectAsync(ExitCodes.Ok, "lookup", bobName)).Out, StringComparison.Ordinal);
        var before = await alice.ExpectAsync(ExitCodes.Ok, "fingerprint", bobName, "--json");

        var rotated = await bob.ExpectAsync(ExitCodes.Ok, "rotate-key", "--json");
        using (var json = JsonDocument.Parse(rotated.Out)) Assert.Equal(2, json.RootElement.GetProperty("key_id").GetInt32());
        Assert.True(File.Exists(bobHome.Profile().KeyFile(1)));
        Assert.True(File.Exists(bobHome.Profile().KeyFile(2)));
        await bob.ExpectAsync(ExitCodes.Ok, "whoami");

        // The new key's certificate verifies under the identity key alice pinned, whose fingerprint is the one people compare.
        var after = await alice.ExpectAsync(ExitCodes.Ok, "lookup", bobName, "--json");
        var fingerprint = await alice.ExpectAsync(ExitCodes.Ok, "fingerprint", bobName, "--json");
        using (var json = JsonDocument.Parse(after.Out))
        {
            Assert.Equal("pinned", json.RootElement.GetProperty("state").GetString());
            Assert.Equal(2, json.RootElement.GetProperty("key_id").GetInt32());
        }
        using (JsonDocument was = JsonDocument.Parse(before.Out), now = JsonDocument.Parse(fingerprint.Out))
            Assert.Equal(was.RootElement.GetProperty("fingerprint").GetString(), now.RootElement.GetProperty("fingerprint").GetString());
    }

    [Fact]
    public async Task Both_sides_compute_the_same_safety_number()
    {
        var (alice, _, aliceName) = await RegisteredAsync("sna");
        var (bob, _, bobName) = await RegisteredAsync("snb");

        using var a = JsonDocument.Parse((await alice.ExpectAsync(ExitCodes.Ok, "fingerprint", bobName, "--json")).Out);
        using var b = JsonDocument.Parse((await bob.ExpectAsync(ExitCodes.Ok, "fingerprint", aliceName, "--json")).Out);

        Assert.Equal(a.RootElement.GetProperty("safety_number").GetString(), b.RootElement.GetProperty("safety_number").GetString());
        Assert.Equal(a.RootElement.GetProperty("own_fingerprint").GetString(), b.RootElement.GetProperty("fingerprint").GetString());
    }

    [Fact]
    public async Task A_token_near_expiry_is_refreshed_and_a_replayed_refresh_token_ends_the_session()
    {
        var (_, home, _) = await RegisteredAsync("refresh");
        var profile = home.Profile();
        await using var client = new SealpostClient(new SealpostClientOptions { Server = new Uri(Server), Profile = profile });
        var before = client.Accounts.Session.Current!;
        var stale = new SessionState
        {
            Username = before.Username,
            AccessToken = before.AccessToken,
            ExpiresAt = DateTimeOffset.UtcNow.AddSeconds(30),
            RefreshToken = before.RefreshToken,
            RefreshExpiresAt = before.RefreshExpiresAt,
        };
        profile.Write(profile.SessionFile, stale, LocalJsonContext.Default.SessionState);
        await using var refreshing = new SealpostClient(new SealpostClientOptions { Server = new Uri(Server), Profile = profile });

        var token = await refreshing.Accounts.Session.GetAsync(default);
        await refreshing.Accounts.WhoAmIAsync(default);

        Assert.NotEqual(before.AccessToken, token.Value);
        Assert.NotEqual(before.RefreshToken, refreshing.Accounts.Session.Current!.RefreshToken);

        // Another copy of the old state spends the already-rotated refresh token: the server ends the session.
        profile.Write(profile.SessionFile, stale, LocalJsonContext.Default.SessionState);
        await using var replaying = new SealpostClient(new SealpostClientOptions { Server = new Uri(Server), Profile = profile });
        var e = await Assert.ThrowsAsync<SealpostException>(() => replaying.Accounts.Session.GetAsync(default));
        Assert.Equal(ErrorKind.Auth, e.Kind);
        Assert.False(File.Exists(profile.SessionFile));
    }

    [Fact]
    public async Task Rotate_key_with_a_wrong_passphrase_exits_6_and_changes_nothing()
    {
        var (cli, home, name) = await RegisteredAsync("rotpw");
        cli.Environment["SEALPOST_PASSPHRASE"] = "not the passphrase";

        await cli.ExpectAsync(ExitCodes.Crypto, "rotate-key");

        Assert.Equal(1u, home.Profile().ReadAccount()!.KeyId);
        Assert.Equal(1, (await cluster.Api.LookupAsync(name))!.KeyId);
    }

    [Fact]
    public async Task Rotate_key_with_a_wrong_account_password_exits_3_and_changes_nothing()
    {
        var (cli, home, name) = await RegisteredAsync("rotacc");
        cli.Environment["SEALPOST_PASSWORD"] = "not the account password";

        var refused = await cli.ExpectAsync(ExitCodes.Auth, "rotate-key");

        Assert.Contains("current password", refused.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1u, home.Profile().ReadAccount()!.KeyId);
        Assert.False(File.Exists(home.Profile().KeyFile(2)));
        Assert.Equal(1, (await cluster.Api.LookupAsync(name))!.KeyId);
    }
}
