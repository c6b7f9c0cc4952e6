using Sealpost.Testing;

namespace Sealpost.System.Tests;

/// <summary>The whole stack on a PostgreSQL and Redis of its own, so its tests can stop and restart them.</summary>
public sealed class FaultStack : SealpostStack
{
    private readonly PrivateBackends _backends;

    public FaultStack() : this(new PrivateBackends())
    {
    }

    private FaultStack(PrivateBackends backends) : base(new Dictionary<string, string>
    {
        // A never-reading client is found out quickly here.
        ["Sockets:SendTimeout"] = "00:00:03",
        ["Sockets:FramesPerSecond"] = "1000",
        // What each socket's delivery decided, for the failure messages (ServiceProcess.LinesMentioning).
        ["Logging:LogLevel:Sealpost.Messages.Delivery.DeviceSession"] = "Debug",
    }, backends.PostgresConnectionString, backends.RedisConfiguration) => _backends = backends;

    public PrivateBackends Backends => _backends;

    public override async Task InitializeAsync()
    {
        await _backends.StartPostgresAsync();
        await _backends.StartRedisAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _backends.DisposeAsync();
    }
}
