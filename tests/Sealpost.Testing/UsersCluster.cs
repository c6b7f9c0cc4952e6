using Xunit;

namespace Sealpost.Testing;

/// <summary>Instances of the users service sharing one fresh database and one signing key, as behind HAProxy.</summary>
public sealed class UsersCluster : IAsyncLifetime, IAsyncDisposable
{
    private readonly int _instances;
    private readonly string? _redis;

    public UsersCluster() : this(2, null, null)
    {
    }

    private UsersCluster(int instances, string? server, string? redis)
    {
        _instances = instances;
        _redis = redis;
        ConnectionString = TestEnvironment.NewDatabase("users", server);
    }

    /// <summary>
    /// A cluster of another size, or on another PostgreSQL server, for tests that make their own; with Redis when it
    /// tells messages instances that sessions ended.
    /// </summary>
    public static UsersCluster Create(int instances = 2, string? server = null, string? redis = null) => new(instances, server, redis);

    public string ConnectionString { get; }

    public string SigningKeyPath { get; } = Path.Combine(TestEnvironment.WorkDir, "keys", Guid.NewGuid().ToString("N") + ".pem");

    public IReadOnlyList<ServiceProcess> Instances { get; private set; } = [];

    /// <summary>The first instance, driven through intent methods.</summary>
    public UsersApi Api => new(Instances[0].Http);

    public Dictionary<string, string> Settings() => new()
    {
        ["Database:ConnectionString"] = ConnectionString,
        ["Redis:Configuration"] = _redis ?? "",
        ["Tokens:SigningKeyPath"] = SigningKeyPath,
        // Every test registers from this machine: the per-address registration limit is lifted, as HAProxy's is; a
        // test of the limit sets its own.
        ["Registrations:PerAddressPerHour"] = "1000000",
        // The web client, as scripts/test builds it; a missing folder only means no page is served.
        ["WebPage:Root"] = Path.Combine(TestEnvironment.RepoRoot, "src", "Sealpost.Web", "dist"),
    };

    public async Task InitializeAsync()
    {
        // Started together on purpose: migrations and key creation must be safe when instances race.
        Instances = await Task.WhenAll(Enumerable.Range(0, _instances).Select(_ => ServiceProcess.StartAsync("Sealpost.Users", Settings())));
    }

    public async Task DisposeAsync()
    {
        foreach (var instance in Instances) await instance.DisposeAsync();
    }

    ValueTask IAsyncDisposable.DisposeAsync() => new(DisposeAsync());
}
