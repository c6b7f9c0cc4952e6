namespace Sealpost.Testing;

/// <summary>
/// A PostgreSQL cluster and a Redis of a test's own (started with scripts/lib.sh, as scripts/test does), for tests
/// that stop and restart them without disturbing other tests.
/// </summary>
public sealed class PrivateBackends : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(TestEnvironment.WorkDir, "backends-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _password = Guid.NewGuid().ToString("N");

    public int PostgresPort { get; } = Ports.Free();

    public int RedisPort { get; } = Ports.Free();

    public string PostgresConnectionString => $"Host=127.0.0.1;Port={PostgresPort};Username=sealpost;Password={_password}";

    public string RedisConfiguration => $"127.0.0.1:{RedisPort}";

    public Task StartPostgresAsync() => LibAsync("start_postgres", Path.Combine(_dir, "pg"), PostgresPort.ToString(), _password, "-c fsync=off");

    /// <summary>A fast shutdown: sessions are cut, as in a crash of the database server or a restart by an operator.</summary>
    public Task StopPostgresAsync() => LibAsync("stop_postgres", Path.Combine(_dir, "pg"));

    public Task StartRedisAsync() => LibAsync("start_redis", Path.Combine(_dir, "redis"), RedisPort.ToString());

    public Task StopRedisAsync() => LibAsync("stop_pidfile", Path.Combine(_dir, "redis", "redis.pid"));

    public async ValueTask DisposeAsync()
    {
        await StopRedisAsync();
        await StopPostgresAsync();
    }

    private static Task LibAsync(string function, params string[] args) => ScriptLib.RunAsync(function, args);
}
