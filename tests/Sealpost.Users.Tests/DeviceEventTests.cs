using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Sealpost.Protocol;
using Sealpost.Testing;
using StackExchange.Redis;

namespace Sealpost.Users.Tests;

/// <summary>What the users service tells the messages instances on Redis when an account's devices change.</summary>
public sealed class DeviceEventTests : IAsyncLifetime
{
    private readonly UsersCluster _cluster = UsersCluster.Create(instances: 1, redis: TestEnvironment.RedisConfiguration);
    private readonly ConcurrentQueue<string> _heard = new();
    private ConnectionMultiplexer? _redis;

    public async Task InitializeAsync()
    {
        _redis = await ConnectionMultiplexer.ConnectAsync(TestEnvironment.RedisConfiguration);
        var subscriber = _redis.GetSubscriber();
        await subscriber.SubscribeAsync(RedisChannel.Sharded(DevicesChanged.Channel), (_, m) => _heard.Enqueue("devices " + m));
        await subscriber.SubscribeAsync(RedisChannel.Sharded(SessionsEnded.Channel), (_, m) => _heard.Enqueue("sessions " + m));
        await _cluster.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        if (_redis is not null) await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Linking_and_removing_a_device_are_announced_and_the_removed_devices_sessions_end()
    {
        var api = _cluster.Api;
        var link = new Linking(api);
        var alice = await link.NewUserWithIdentityAsync("evt");
        var (laptop, session, _) = await link.LinkAsync(alice);
        var linked = JsonSerializer.Serialize(new DevicesChanged(alice.Username), SealpostJsonContext.Default.DevicesChanged);
        await Eventually.HoldsAsync(() => Task.FromResult(_heard.Contains("devices " + linked)), $"not heard: {linked}; heard: {string.Join(", ", _heard)}");

        using (var removed = await link.RemoveRawAsync(alice.AccessToken, laptop))
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);

        var sid = JsonDocument.Parse(Linking.Decode(session.AccessToken.Split('.')[1])).RootElement.GetProperty(TokenClaims.Session).GetString();
        var gone = JsonSerializer.Serialize(new DevicesChanged(alice.Username, laptop), SealpostJsonContext.Default.DevicesChanged);
        var ended = JsonSerializer.Serialize(new SessionsEnded(alice.Username, Guid.Parse(sid!), null), SealpostJsonContext.Default.SessionsEnded);
        await Eventually.HoldsAsync(() => Task.FromResult(_heard.Contains("devices " + gone) && _heard.Contains("sessions " + ended)),
            $"not heard: {gone} and {ended}; heard: {string.Join(", ", _heard)}");
        // Device 1's session was not ended (other test projects share this Redis: only alice's notices count).
        Assert.DoesNotContain(_heard, m => m.StartsWith("sessions ", StringComparison.Ordinal) && m.Contains($"\"{alice.Username}\"", StringComparison.Ordinal)
            && !m.EndsWith(ended, StringComparison.Ordinal));
    }
}
