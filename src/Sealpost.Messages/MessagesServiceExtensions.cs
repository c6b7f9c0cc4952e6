using System.Net.WebSockets;
using Sealpost.Messages.Cluster;
using Sealpost.Messages.Delivery;
using Sealpost.Messages.Identity;
using Sealpost.Messages.Mailboxes;
using Sealpost.Messages.Monitoring;
using Sealpost.Messages.Sending;
using Sealpost.Messages.Sockets;
using Sealpost.Messages.UsersEvents;
using Sealpost.ServiceDefaults;
using StackExchange.Redis;

namespace Sealpost.Messages;

/// <summary>
/// The messages service's whole graph, on one screen. A message goes one way through it: Sockets (frames) → Sending
/// (what a send becomes) → Delivery (the core) → the ports Mailboxes (the store) and Cluster (the bus between instances).
/// </summary>
internal static class MessagesServiceExtensions
{
    public static WebApplicationBuilder AddMessagesService(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults(maxRequestBodyBytes: 1024);
        builder.AddMetrics(MessagesMetrics.MeterName);
        var services = builder.Services;
        services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<MailboxOptions>().BindConfiguration(MailboxOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SocketOptions>().BindConfiguration(SocketOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<DeliveryOptions>().BindConfiguration(DeliveryOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<UsersOptions>().BindConfiguration(UsersOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(TimeProvider.System).AddSingleton<MessagesMetrics>();

        // Ports: the mailbox store (PostgreSQL) and the bus between instances (Redis, or in memory for one instance).
        // Mailboxes over one or more PostgreSQL clusters by virtual shard; the clusters are migrated and read at start.
        services.AddSingleton<MailboxClusters>().AddSingleton<IMailboxStore>(sp => sp.GetRequiredService<MailboxClusters>()).AddSingleton<MailboxWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<MailboxClusters>()).AddHostedService<MailboxSweeper>();
        var redis = builder.Configuration.GetSection(RedisOptions.Section).Get<RedisOptions>()?.Configuration;
        if (string.IsNullOrWhiteSpace(redis)) services.AddSingleton<IClusterBus, InMemoryClusterBus>(_ => new InMemoryClusterBus());
        else
        {
            // Start and keep running without Redis: delivery then degrades to polling the store.
            services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(ConfigurationOptions.Parse(redis).Apply(o => o.AbortOnConnectFail = false)));
            services.AddSingleton<IClusterBus, RedisClusterBus>();
            services.AddHostedService<UsersEventsListener>();
        }

        // Who is who: access tokens and device lists, from the users service.
        // Singletons (each keeps a cache), each with an HTTP client of its own.
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<TokenValidator>(sp, UsersServiceClient(sp, nameof(TokenValidator))));
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<DeviceDirectory>(sp, UsersServiceClient(sp, nameof(DeviceDirectory))));
        services.AddHttpClient(nameof(TokenValidator), c => c.Timeout = TimeSpan.FromSeconds(5));
        services.AddHttpClient(nameof(DeviceDirectory), c => c.Timeout = TimeSpan.FromSeconds(5));
        // Asked at every connect: a users service that does not answer soon is passed over (the token is trusted).
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<LiveSessions>(sp, UsersServiceClient(sp, nameof(LiveSessions))));
        services.AddHttpClient(nameof(LiveSessions), c => c.Timeout = TimeSpan.FromSeconds(2));

        // Delivery, the core: the origin side (Relay), the receiving side (LocalDevices, DeviceSessions), and the flush between.
        services.AddSingleton<LocalDevices>().AddSingleton<Relay>().AddSingleton<ClusterFlush>().AddSingleton<Origins>().AddSingleton<DeviceSessions>();
        services.AddSingleton<BusDispatcher>().AddHostedService<DeliveryLoops>();

        // Sending and the sockets.
        services.AddSingleton<DeviceListCheck>().AddSingleton<SendHandler>().AddSingleton<FrameBudgets>();
        return builder;
    }

    private static HttpClient UsersServiceClient(IServiceProvider services, string name) =>
        services.GetRequiredService<IHttpClientFactory>().CreateClient(name);

    public static WebApplication MapMessagesService(this WebApplication app)
    {
        app.UseServiceDefaults();
        app.UseWebSockets();
        app.MapHealthEndpoints(app.Services.GetRequiredService<IMailboxStore>().PingAsync);
        app.MapSocketEndpoints();
        app.MapMetrics();
        var (devices, relay, writer, bus) = (app.Services.GetRequiredService<LocalDevices>(), app.Services.GetRequiredService<Relay>(),
            app.Services.GetRequiredService<MailboxWriter>(), app.Services.GetRequiredService<IClusterBus>());
        app.Services.GetRequiredService<MessagesMetrics>().Observe(() => devices.SocketCount, () => relay.HeldCount, () => writer.QueuedStores,
            () => writer.QueuedDeletes, () => bus.IsHealthy);
        // On shutdown every socket is closed with 1001 so its client reconnects, through HAProxy, to another instance.
        app.Lifetime.ApplicationStopping.Register(() => devices.CloseAll((int)WebSocketCloseStatus.EndpointUnavailable, "server shutting down; reconnect"));
        return app;
    }
}
