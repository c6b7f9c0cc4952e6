using Xunit;

namespace Sealpost.Testing;

/// <summary>
/// The whole system on free loopback ports, as scripts/up runs it: two users instances, two messages instances
/// (sharing a fresh mailbox database and the test Redis), and HAProxy with deploy/haproxy.cfg in front.
/// </summary>
public class SealpostStack : IAsyncLifetime, IAsyncDisposable
{
    private readonly Dictionary<string, string> _messageSettings;
    private readonly string? _redis;
    private HaproxyProcess? _haproxy;

    public SealpostStack() : this(new Dictionary<string, string>())
    {
    }

    /// <summary>
    /// Extra settings for the messages instances (short lifetimes, small quotas) in fixtures that derive from this,
    /// and optionally a PostgreSQL server and Redis of their own.
    /// </summary>
    protected SealpostStack(Dictionary<string, string> messageSettings, string? postgres = null, string? redis = null)
    {
        _messageSettings = messageSettings;
        _redis = redis;
        Users = UsersCluster.Create(2, postgres, redis ?? TestEnvironment.RedisConfiguration);
        MessagesConnectionString = TestEnvironment.NewDatabase("messages", postgres);
    }

    public UsersCluster Users { get; }

    public IReadOnlyList<ServiceProcess> Messages { get; private set; } = [];

    public string MessagesConnectionString { get; }

    public int HaproxyPort { get; } = Ports.Free();

    /// <summary>HAProxy's address: REST and WebSocket alike.</summary>
    public Uri BaseUrl => new($"http://127.0.0.1:{HaproxyPort}/");

    public UsersApi Api => new(new HttpClient { BaseAddress = BaseUrl });

    /// <summary>How a messages instance is configured: it reaches the users service through HAProxy, as in scripts/up.</summary>
    public Dictionary<string, string> MessagesSettings() => new(_messageSettings)
    {
        ["Database:ConnectionString"] = MessagesConnectionString,
        ["Redis:Configuration"] = _redis ?? TestEnvironment.RedisConfiguration,
        ["Users:BaseUrl"] = BaseUrl.ToString(),
        // The web page is served from HAProxy's own origin, as under scripts/up.
        ["Sockets:AllowedOrigins:0"] = BaseUrl.GetLeftPart(UriPartial.Authority),
    };

    public virtual async Task InitializeAsync()
    {
        await Users.InitializeAsync();
        Messages = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => ServiceProcess.StartAsync("Sealpost.Messages", MessagesSettings())));
        await StartHaproxyAsync();
    }

    /// <summary>How many messages wait in a recipient's mailbox, read straight from the mailbox database.</summary>
    public async Task<long> MailboxCountAsync(string recipient)
    {
        await using var connection = new Npgsql.NpgsqlConnection(MessagesConnectionString);
        await connection.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT count(*) FROM messages WHERE recipient = $1", connection) { Parameters = { new() { Value = recipient } } };
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>A WebSocket address on one messages instance directly (0 or 1), or through HAProxy (null).</summary>
    public Uri SocketUrl(int? instance = null) =>
        new((instance is { } i ? Messages[i].BaseAddress : BaseUrl).ToString().Replace("http://", "ws://", StringComparison.Ordinal) + "v1/ws");

    /// <summary>HAProxy's HTTPS address (the same routes over TLS), with <see cref="CertificatePath"/>'s certificate.</summary>
    public Uri TlsBaseUrl => new($"https://127.0.0.1:{TlsPort}/");

    public int TlsPort { get; } = Ports.Free();

    /// <summary>The self-signed certificate HAProxy serves on <see cref="TlsBaseUrl"/> (made as scripts/up makes its own).</summary>
    public string CertificatePath => Path.Combine(TestEnvironment.WorkDir, $"tls-{TlsPort}", "cert.pem");

    /// <summary>
    /// Every test user comes from 127.0.0.1, so the per-address login and registration limits are lifted here;
    /// tests of those limits start HAProxy with the config's own limits.
    /// </summary>
    private async Task StartHaproxyAsync()
    {
        var tls = Path.GetDirectoryName(CertificatePath)!;
        await ScriptLib.RunAsync("make_certificate", [tls]);
        _haproxy = await HaproxyProcess.StartAsync(
            [.. Users.Instances.Select(i => i.Port)], [.. Messages.Select(m => m.Port)],
            new Dictionary<string, string>
            {
                ["SEALPOST_LOGINS_PER_MINUTE"] = "1000000", ["SEALPOST_REGISTRATIONS_PER_HOUR"] = "1000000", ["SEALPOST_LINKS_PER_HOUR"] = "1000000",
                ["SEALPOST_LINK_POLLS_PER_MINUTE"] = "1000000", ["SEALPOST_DIRECTORY_READS_PER_MINUTE"] = "1000000",
                ["SEALPOST_TLS_BIND"] = $"127.0.0.1:{TlsPort}", ["SEALPOST_TLS_CERT"] = Path.Combine(tls, "haproxy.pem"),
            },
            HaproxyPort);
    }

    public virtual async Task DisposeAsync()
    {
        if (_haproxy is not null) await _haproxy.DisposeAsync();
        foreach (var instance in Messages) await instance.DisposeAsync();
        await Users.DisposeAsync();
    }

    ValueTask IAsyncDisposable.DisposeAsync() => new(DisposeAsync());
}
