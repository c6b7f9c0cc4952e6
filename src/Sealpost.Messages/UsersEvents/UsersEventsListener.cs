using System.Text.Json;
using Sealpost.Messages.Delivery;
using Sealpost.Messages.Identity;
using Sealpost.Messages.Mailboxes;
using Sealpost.Protocol;
using StackExchange.Redis;

namespace Sealpost.Messages.UsersEvents;

/// <summary>
/// What the users service announces on Redis (sharded pub/sub, as the cluster bus) (JSON, <see cref="SessionsEnded"/> and <see cref="DevicesChanged"/>): the
/// sockets of ended sessions close (and a live answer kept for one of them is dropped); an account's cached device list is forgotten, and a removed device's mailbox goes
/// (every instance hears this and deletes, which is idempotent; a notice lost while Redis is away leaves the rows to
/// expire). Runs only where Redis is configured: one instance alone has no users-service events to hear.
/// </summary>
internal sealed partial class UsersEventsListener(
    IConnectionMultiplexer redis, LocalDevices devices, DeviceDirectory directory, LiveSessions sessions, IMailboxStore store, ILogger<UsersEventsListener> logger) : BackgroundService
{
    // Until it succeeds (Redis may be away at start); once subscribed, the multiplexer resubscribes after reconnects.
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var subscriber = redis.GetSubscriber();
        while (true)
        {
            try
            {
                var sessions = await subscriber.SubscribeAsync(RedisChannel.Sharded(SessionsEnded.Channel));
                sessions.OnMessage(m => OnSessionsEnded(m.Message));
                var changes = await subscriber.SubscribeAsync(RedisChannel.Sharded(DevicesChanged.Channel));
                changes.OnMessage(m => OnDevicesChangedAsync(m.Message));
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                LogSubscribeFailed(logger, e);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }

    private void OnSessionsEnded(RedisValue value)
    {
        if (Read(value, SealpostJsonContext.Default.SessionsEnded) is not { Username: not null } ended) return;
        sessions.Forget(ended);
        devices.EndSessions(ended);
    }

    private async Task OnDevicesChangedAsync(RedisValue value)
    {
        if (Read(value, SealpostJsonContext.Default.DevicesChanged) is not { Username: not null } changed) return;
        directory.Forget(changed.Username);
        if (changed.Removed is not { } removed || removed < 1) return;
        try
        {
            await store.DeleteMailboxAsync(DeviceAddress.Of(changed.Username, removed), CancellationToken.None);
        }
        catch (Exception e)
        {
            LogRemovedMailboxFailed(logger, e);
        }
    }

    private static T? Read<T>(RedisValue value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize((byte[]?)value, type);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting the mailbox of a removed device failed; its messages stay until they expire")]
    private static partial void LogRemovedMailboxFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is not answering; the users service's session and device notices wait")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception e);
}
