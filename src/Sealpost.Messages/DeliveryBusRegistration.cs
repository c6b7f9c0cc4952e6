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
            // Stored-notices published while a connection is down are lost, on either side. So while Redis is away the
            // sockets here poll the store; once it is back they read once more, and every other instance is told to
            // have its sockets read too (they missed what this one announced meanwhile).
            multiplexer.ConnectionFailed += (_, _) =>
            {
                MessagesMetrics.BusDisconnects.Add(1);
                sp.GetRequiredService<ConnectionRegistry>().OnBusLost();
            };
            multiplexer.ConnectionRestored += (_, _) =>
            {
                MessagesMetrics.BusReconnects.Add(1);
                sp.GetRequiredService<ConnectionRegistry>().WakeAll();
                sp.GetRequiredService<IDeliveryBus>().Returned();
            };
            return multiplexer;
        });
        services.AddSingleton(sp => new Lazy<ConnectionRegistry>(sp.GetRequiredService<ConnectionRegistry>));
        services.AddSingleton(sp => new Lazy<Relay>(sp.GetRequiredService<Relay>));
        return services.AddSingleton<IDeliveryBus, RedisBus>();
    }
}
