using Sealpost.Messages;
using Sealpost.Messages.Delivery;
using Sealpost.Messages.Identity;
using Sealpost.Messages.Mailboxes;
using Sealpost.Messages.Monitoring;
using Sealpost.Messages.Sockets;
using Sealpost.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults(maxRequestBodyBytes: 1024);
builder.AddMetrics(MessagesMetrics.MeterName);
builder.Services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<MailboxOptions>().BindConfiguration(MailboxOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<SocketOptions>().BindConfiguration(SocketOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<UsersOptions>().BindConfiguration(UsersOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<RedisOptions>().BindConfiguration(RedisOptions.Section);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddDatabase(planEachExecution: true);   // the mailbox table is a queue: empty, then full
builder.Services.AddSingleton<IMailboxStore, PostgresMailboxStore>().AddSingleton<MailboxWriter>();
builder.Services.AddHttpClient<TokenValidator>(c => c.Timeout = TimeSpan.FromSeconds(5));
builder.Services.AddSingleton(sp => sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(TokenValidator)));
builder.Services.AddSingleton<TokenValidator>().AddSingleton<DeviceDirectory>();
builder.Services.AddDeliveryBus(builder.Configuration);
builder.Services.AddSingleton<ConnectionRegistry>().AddSingleton<Relay>().AddSingleton(SocketServicesFrom);
builder.Services.AddHostedService<DatabaseMigrations<MailboxSweeper>>().AddHostedService<MailboxSweeper>();

var app = builder.Build();
app.UseServiceDefaults();
app.UseWebSockets();
app.MapHealthEndpoints(app.Services.GetRequiredService<IMailboxStore>().PingAsync);
app.MapSocketEndpoints();
app.MapMetrics();
MessagesMetrics.Observe(app.Services);
app.CloseAllOnShutdown();
app.Run();

static SocketServices SocketServicesFrom(IServiceProvider sp) => new(
    new DeliveryServices(
        sp.GetRequiredService<IMailboxStore>(), sp.GetRequiredService<MailboxWriter>(), sp.GetRequiredService<Relay>(),
        sp.GetRequiredService<ConnectionRegistry>(), sp.GetRequiredService<IDeliveryBus>(),
        sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<SocketOptions>>().Value, sp.GetRequiredService<TimeProvider>(),
        sp.GetRequiredService<ILogger<Connection>>()),
    sp.GetRequiredService<DeviceDirectory>(), sp.GetRequiredService<TokenValidator>());
