using Sealpost.Messages.Delivery;
using Sealpost.Messages.Monitoring;
using Sealpost.Messages.Sockets;
using StackExchange.Redis;

namespace Sealpost.Messages;

internal static class DeliveryBusRegistration
{
    /// <summary>Redis when configured (several instances), else the in-process bus (one instance).</summary>
    public static IServiceCollection AddDeliveryBus(this IServiceCollection services, IConfiguration configuration)
    {
        var redis = configuration.GetSection(RedisOptions.Section).Get<RedisOptions>()?.Configuration;
        if (string.IsNullOrWhiteSpace(redis))
            return services.AddSingleton<IDeliveryBus, InProcessBus>();

        services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var config = ConfigurationOptions.Parse(redis);
            // Start and keep running without Redis: delivery then degrades to polling the store.
            config.AbortOnConnectFail = false;
            var multiplexer = ConnectionMultiplexer.Connect(config);
            // Either way every socket rereads its mailbox: on failure to start polling at the degraded pace at once,
            // on restore to pick up what was published while Redis was away.
            multiplexer.ConnectionFailed += (_, _) =>
            {
                MessagesMetrics.BusDisconnects.Add(1);
                sp.GetRequiredService<ConnectionRegistry>().WakeAll();
            };
            multiplexer.ConnectionRestored += (_, _) =>
            {
                MessagesMetrics.BusReconnects.Add(1);
                sp.GetRequiredService<ConnectionRegistry>().WakeAll();
            };
            return multiplexer;
        });
        services.AddSingleton(sp => new Lazy<ConnectionRegistry>(sp.GetRequiredService<ConnectionRegistry>));
        services.AddSingleton(sp => new Lazy<Relay>(sp.GetRequiredService<Relay>));
        return services.AddSingleton<IDeliveryBus, RedisBus>();
    }
}
