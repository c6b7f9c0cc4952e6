using System.Text.Json;
using Sealpost.Protocol;
using StackExchange.Redis;

namespace Sealpost.Users.Sessions;

/// <summary>
/// Tells the messages instances that sessions ended (<see cref="SessionsEnded"/> on Redis, sharded pub/sub), so a socket opened with a
/// logged-out or revoked session closes at once instead of living until its access token expires, and that an
/// account's devices changed (<see cref="Protocol.DevicesChanged"/>), so they forget the device list they cached. Without Redis
/// (<c>Redis:Configuration</c> empty: one machine, some tests) nothing is told, and such a socket ends with its token
/// (at most 10 minutes). Fire and forget: a notice lost while Redis is away costs the same as no Redis.
/// </summary>
public sealed partial class SessionEvents
{
    private readonly ILogger<SessionEvents> _logger;
    private readonly Task<ConnectionMultiplexer>? _redis;

    public SessionEvents(IConfiguration configuration, ILogger<SessionEvents> logger)
    {
        _logger = logger;
        var redis = configuration["Redis:Configuration"];
        if (string.IsNullOrWhiteSpace(redis)) return;
        var options = ConfigurationOptions.Parse(redis);
        options.AbortOnConnectFail = false;   // serve without Redis; it reconnects by itself
        _redis = ConnectionMultiplexer.ConnectAsync(options);
    }

    public void Ended(string username, Guid? only = null, Guid? except = null) =>
        Publish(SessionsEnded.Channel, JsonSerializer.SerializeToUtf8Bytes(new SessionsEnded(username, only, except), SealpostJsonContext.Default.SessionsEnded), username);

    /// <summary>These sessions of the user ended (a device's, when it is removed or rotates its key): one notice each.</summary>
    public void Ended(string username, IEnumerable<Guid> sessions)
    {
        foreach (var session in sessions) Ended(username, only: session);
    }

    /// <summary>The user's devices changed (<see cref="DevicesChanged"/>): a device linked, one removed, the account deleted.</summary>
    public void DevicesChanged(string username, int? removed = null) =>
        Publish(Protocol.DevicesChanged.Channel,
            JsonSerializer.SerializeToUtf8Bytes(new Protocol.DevicesChanged(username, removed), SealpostJsonContext.Default.DevicesChanged), username);

    private void Publish(string channel, byte[] payload, string username)
    {
        if (_redis is null) return;
        if (!_redis.IsCompletedSuccessfully)
        {
            LogNotTold(_logger, _redis.Exception?.GetBaseException(), username);
            return;
        }
        try
        {
            _redis.Result.GetSubscriber().Publish(RedisChannel.Sharded(channel), payload, CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogNotTold(_logger, e, username);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell the messages instances that sessions or devices of {Username} changed; their sockets close when their tokens expire, their device lists when they expire")]
    private static partial void LogNotTold(ILogger logger, Exception? e, string username);
}
