using System.Text.Json;
using Sealpost.Protocol;
using StackExchange.Redis;

namespace Sealpost.Users.Sessions;

/// <summary>
/// Tells the messages instances that sessions ended (<see cref="SessionsEnded"/> on Redis), so a socket opened with a
/// logged-out or revoked session closes at once instead of living until its access token expires. Without Redis
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

    public void Ended(string username, Guid? only = null, Guid? except = null)
    {
        if (_redis is null) return;
        if (!_redis.IsCompletedSuccessfully)
        {
            LogNotTold(_logger, _redis.Exception?.GetBaseException(), username);
            return;
        }
        var payload = JsonSerializer.SerializeToUtf8Bytes(new SessionsEnded(username, only, except), SealpostJsonContext.Default.SessionsEnded);
        try
        {
            _redis.Result.GetSubscriber().Publish(RedisChannel.Literal(SessionsEnded.Channel), payload, CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogNotTold(_logger, e, username);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell the messages instances that sessions of {Username} ended; their sockets close when their tokens expire")]
    private static partial void LogNotTold(ILogger logger, Exception? e, string username);
}
