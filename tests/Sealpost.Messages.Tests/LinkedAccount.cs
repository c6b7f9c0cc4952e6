using Sealpost.Client;
using Sealpost.Client.Storage;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests;

/// <summary>An account with two devices, linked as the SDK links them (docs/devices.md), and a session of each.</summary>
internal sealed record LinkedAccount(string Username, SessionResponse Device1, SessionResponse Device2)
{
    public static async Task<LinkedAccount> CreateAsync(UsersCluster users, string prefix)
    {
        var home = Path.Combine(Path.GetTempPath(), "sealpost-messages-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var server = users.Instances[0].BaseAddress;
            await using var first = new SealpostClient(new SealpostClientOptions { Server = server, Profile = new ProfileFolder(home, "one"), Passphrase = () => "a passphrase for tests" });
            await using var second = new SealpostClient(new SealpostClientOptions { Server = server, Profile = new ProfileFolder(home, "two"), Passphrase = () => "a passphrase for tests" });
            var username = TestEnvironment.UniqueUsername(prefix);
            await first.Accounts.RegisterAsync(username, UsersApi.DefaultPassword, null, null, default);
            var request = await second.Devices.RequestLinkAsync(username, "second", default);
            var offer = await first.Devices.InspectLinkAsync(request.Code.ToString(), default);
            var completing = second.Devices.CompleteLinkAsync(request, default);
            await first.Devices.ApproveLinkAsync(offer, default);
            var linked = await completing.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(2, (int)linked.DeviceId);
            return new LinkedAccount(username, await users.Api.LoginAsync(username, deviceId: 1), await users.Api.LoginAsync(username, deviceId: 2));
        }
        finally
        {
            if (Directory.Exists(home)) Directory.Delete(home, recursive: true);
        }
    }
}
