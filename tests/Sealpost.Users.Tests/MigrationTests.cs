using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Users.Tests;

/// <summary>Data written before a migration reads as it should after it: a users instance started on an older schema.</summary>
[Collection(UsersCollection.Name)]
public sealed class MigrationTests(UsersCluster cluster)
{
    [Fact]
    public async Task An_account_made_before_linked_devices_is_device_1_with_its_keys_and_its_sessions()
    {
        // A real Argon2id hash of the default password, from an account made today.
        var donor = await cluster.Api.NewUserAsync("mig");
        var passwordHash = (string)(await Db.ScalarAsync(cluster.ConnectionString, "SELECT password_hash FROM accounts WHERE username = $1", donor.Username))!;
        await using var old = UsersCluster.Create(instances: 1);
        await CreateDatabaseAsync(old.ConnectionString);
        await ApplyMigrationsAsync(old.ConnectionString, upTo: 4);

        var (id, username) = (Guid.CreateVersion7(), TestEnvironment.UniqueUsername("old"));
        var (firstKey, currentKey, refreshToken) = (UsersApi.NewPublicKey(), UsersApi.NewPublicKey(), "a refresh token from before devices");
        var created = DateTimeOffset.UtcNow.AddDays(-30);
        await Db.ScalarAsync(old.ConnectionString, """
            INSERT INTO accounts (id, username, password_hash, key_id, key_changed_at, created_at) VALUES ($1, $2, $3, 2, $4, $5);
            """, id, username, passwordHash, created.AddDays(1), created);
        await Db.ScalarAsync(old.ConnectionString, """
            INSERT INTO account_keys (account_id, key_id, public_key, created_at) VALUES ($1, 1, $2, $4), ($1, 2, $3, $5)
            """, id, firstKey, currentKey, created, created.AddDays(1));
        await Db.ScalarAsync(old.ConnectionString, "INSERT INTO sessions (id, account_id, refresh_hash, expires_at) VALUES ($1, $2, $3, now() + interval '1 day')",
            Guid.CreateVersion7(), id, SHA256.HashData(Encoding.UTF8.GetBytes(refreshToken)));

        await old.InitializeAsync();
        var api = old.Api;
        var link = new Linking(api);

        var record = (await api.LookupAsync(username))!;
        Assert.Equal((Linking.B64(currentKey), 2), (record.PublicKey, record.KeyId));
        Assert.Equal(created.AddDays(1).ToUnixTimeSeconds(), record.KeyChangedAt.ToUnixTimeSeconds());
        Assert.Equal(Linking.B64(firstKey), (await api.Http.GetFromJsonAsync($"v1/accounts/{username}/keys/1", SealpostJsonContext.Default.PublicAccount))!.PublicKey);
        var device = Assert.Single((await link.PublicDevicesAsync(username)).Devices);
        Assert.Equal((1, 2, Linking.B64(currentKey)), (device.DeviceId, device.KeyId, device.PublicKey));
        Assert.Equal(Linking.B64(firstKey), (await api.Http.GetFromJsonAsync($"v1/accounts/{username}/devices/1/keys/1", SealpostJsonContext.Default.PublicDevice))!.PublicKey);

        using (var refreshed = await api.RefreshRawAsync(refreshToken))
        {
            await UsersApi.EnsureAsync(refreshed, HttpStatusCode.OK);
            Assert.Equal("1", Linking.DeviceClaim((await refreshed.Content.ReadFromJsonAsync(SealpostJsonContext.Default.SessionResponse))!.AccessToken));
        }
        var session = await api.LoginAsync(username);
        Assert.Equal("1", Linking.DeviceClaim(session.AccessToken));
        var own = await link.OwnDevicesAsync(session.AccessToken);
        Assert.Equal((1, 1, "device 1", created.ToUnixTimeSeconds()), (own.CurrentDeviceId, own.Devices.Single().DeviceId, own.Devices.Single().Name, own.Devices.Single().CreatedAt.ToUnixTimeSeconds()));
        using var rotated = await api.RotateKeyRawAsync(session.AccessToken, Linking.B64(UsersApi.NewPublicKey()), UsersApi.DefaultPassword);
        Assert.Equal(3, (await rotated.Content.ReadFromJsonAsync(SealpostJsonContext.Default.OwnAccount))!.KeyId);
    }

    private static async Task CreateDatabaseAsync(string connectionString)
    {
        var target = new NpgsqlConnectionStringBuilder(connectionString);
        var admin = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false };
        // The name is ours (users_<guid>): safe to quote as an identifier.
        await Db.ScalarAsync(admin.ConnectionString, $"CREATE DATABASE \"{target.Database}\"");
    }

    /// <summary>The service's migrations up to <paramref name="upTo"/>, recorded as its migrator records them.</summary>
    private static async Task ApplyMigrationsAsync(string connectionString, int upTo)
    {
        await Db.ScalarAsync(connectionString,
            "CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
        var folder = Path.Combine(TestEnvironment.RepoRoot, "src", "Sealpost.Users", "Migrations");
        foreach (var file in Directory.GetFiles(folder, "*.sql").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var version = int.Parse(name.AsSpan(0, 4), System.Globalization.CultureInfo.InvariantCulture);
            if (version > upTo) continue;
            await Db.ScalarAsync(connectionString, await File.ReadAllTextAsync(file));
            await Db.ScalarAsync(connectionString, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name);
        }
    }
}
