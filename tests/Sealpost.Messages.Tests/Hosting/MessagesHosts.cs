using Npgsql;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests.Hosting;

/// <summary>
/// Two messages instances in this process sharing one fresh mailbox database and the test Redis, in front of a users
/// instance (a process: it signs the tokens and lists the devices). No HAProxy: sockets connect to an instance directly.
/// </summary>
public class MessagesHosts : IAsyncLifetime
{
    private readonly Dictionary<string, string> _extra;
    private readonly List<MessagesHost> _instances = [];

    public MessagesHosts() : this([])
    {
    }

    /// <summary>With extra settings for the messages instances (small quotas, short lifetimes) in fixtures that derive from this.</summary>
    protected MessagesHosts(Dictionary<string, string> extra)
    {
        _extra = extra;
        Users = UsersCluster.Create(1, redis: TestEnvironment.RedisConfiguration);
        MessagesConnectionString = TestEnvironment.NewDatabase("messages");
    }

    public UsersCluster Users { get; }

    public string MessagesConnectionString { get; }

    public IReadOnlyList<MessagesHost> Instances => _instances;

    /// <summary>The users instance, driven through intent methods.</summary>
    public UsersApi Api => Users.Api;

    /// <summary>A messages instance's settings: the users instance directly, as HAProxy would route it.</summary>
    public Dictionary<string, string> Settings() => new(_extra)
    {
        ["Database:ConnectionString"] = MessagesConnectionString,
        ["Redis:Configuration"] = TestEnvironment.RedisConfiguration,
        ["Users:BaseUrl"] = Users.Instances[0].BaseAddress.ToString(),
    };

    /// <summary>The WebSocket address of instance 0 or 1.</summary>
    public Uri SocketUrl(int instance = 0) => _instances[instance].SocketUrl;

    /// <summary>Another instance on the same database, Redis and users service, stopped by disposing it.</summary>
    public MessagesHost StartAnother(TimeProvider? clock = null) => new(Settings(), clock);

    /// <summary>How many messages wait in a recipient's mailbox, read straight from the mailbox database.</summary>
    public async Task<long> MailboxCountAsync(string recipient)
    {
        await using var connection = new NpgsqlConnection(MessagesConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM messages WHERE recipient = $1", connection) { Parameters = { new() { Value = recipient } } };
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public virtual async Task InitializeAsync()
    {
        await Users.InitializeAsync();
        for (var i = 0; i < 2; i++) _instances.Add(StartAnother());
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var instance in _instances) await instance.DisposeAsync();
        await Users.DisposeAsync();
    }
}
