using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Sealpost.Testing;

namespace Sealpost.Cluster.Tests;

/// <summary>
/// The cluster scripts/cluster started (it must be up: scripts/test-cluster brings it up, runs these tests and takes it
/// down), read from its cluster.env, and the script's own commands to break and mend it.
/// </summary>
public sealed class ClusterHosts
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(3) };
    private readonly Dictionary<string, string> _env;

    public ClusterHosts()
    {
        var path = Environment.GetEnvironmentVariable("SEALPOST_CLUSTER_ENV") is { Length: > 0 } set
            ? set
            : Path.Combine(TestEnvironment.RepoRoot, ".cluster", "cluster.env");
        if (!File.Exists(path)) throw new InvalidOperationException($"{path} is missing: run the cluster tier through scripts/test-cluster (or scripts/cluster up first)");
        _env = File.ReadAllLines(path).Where(l => l.Length > 0 && l[0] != '#' && l.Contains('='))
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
    }

    /// <summary>Where clients connect: the edge hosts' virtual address, over HTTPS (the SDK refuses plain http off this machine).</summary>
    public Uri Url => new(_env["tls_url"]);

    /// <summary>The edges' self-made certificate, the only one the peers trust.</summary>
    public string CertificateFile => _env["tls_certificate"];

    /// <summary>The service hosts, in order (svc1, svc2, svc3).</summary>
    public IReadOnlyList<string> ServiceHosts => [.. List("hosts").Where(h => h.StartsWith("svc", StringComparison.Ordinal))];

    /// <summary>The edge hosts (HAProxy and keepalived), which share the virtual address.</summary>
    public IReadOnlyList<string> EdgeHosts => [.. List("hosts").Where(h => h.StartsWith("edge", StringComparison.Ordinal))];

    public string HostAddress(string host) => _env["host_" + host];

    /// <summary>A host's network namespace, where commands run as on that host.</summary>
    public string Namespace(string host) => _env["namespace_" + host];

    /// <summary>Every Patroni member: its database (scope), its host, and its REST API's address.</summary>
    public IReadOnlyList<(string Scope, string Host, string Api)> DatabaseMembers =>
        [.. List("pg_scopes").SelectMany(scope => List("patroni_" + scope).Select(api =>
            (scope, ServiceHosts.Single(h => api.StartsWith(HostAddress(h) + ":", StringComparison.Ordinal)), api)))];

    /// <summary>The Redis Cluster's nodes (address:port).</summary>
    public IReadOnlyList<string> RedisNodes => List("redis_nodes");

    private string[] List(string key) => _env[key].Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public string RedisPasswordFile => _env["redis_password_file"];

    /// <summary>Which host each database's leader is on now (asked of every member's Patroni REST API; unreachable members say nothing).</summary>
    public async Task<Dictionary<string, string>> LeadersAsync()
    {
        var leaders = new Dictionary<string, string>();
        foreach (var (scope, host, api) in DatabaseMembers)
        {
            try
            {
                using var response = await Http.GetAsync($"http://{api}/patroni");
                var state = await response.Content.ReadFromJsonAsync<JsonElement>();
                var role = state.GetProperty("role").GetString();
                if (role is "master" or "primary") leaders[scope] = host;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
            {
                // Down or cut off: it leads nothing anyone can reach.
            }
        }
        return leaders;
    }

    /// <summary>
    /// Whether every database member on <paramref name="host"/> works again within <paramref name="within"/>: a
    /// running, streaming replica (Patroni's <c>/replica</c> answers 200) or its scope's leader, as after a heal it
    /// should be by itself.
    /// </summary>
    public async Task<bool> ReplicasAgainAsync(string host, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var members = DatabaseMembers.Where(m => m.Host == host).ToList();
        while (true)
        {
            var streaming = 0;
            foreach (var (_, _, api) in members)
            {
                try
                {
                    using var response = await Http.GetAsync($"http://{api}/replica");
                    if (response.IsSuccessStatusCode) streaming++;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // not yet
                }
            }
            // A member that leads its scope again counts too: either way it is a working member of its cluster.
            if ((await LeadersAsync()).Values.Count(h => h == host) + streaming == members.Count) return true;
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(1000);
        }
    }

    /// <summary>
    /// For a failure message: where a message from <paramref name="sender"/> with <paramref name="clientId"/> waits in
    /// <paramref name="recipient"/>'s mailbox, asked of each mailbox cluster's primary, and how many rows wait for it in all.
    /// </summary>
    public async Task<string> MailboxRowsAsync(string recipient, string sender, string clientId)
    {
        var password = (await File.ReadAllTextAsync(_env["pg_messages_password_file"])).Trim();
        var parts = new List<string>();
        foreach (var scope in List("pg_scopes").Where(s => s != "users"))
        {
            var hosts = string.Join(',', List("pg_" + scope).Select(m => m[(m.IndexOf('@') + 1)..]));
            var connection = $"Host={hosts};Target Session Attributes=primary;Timeout=3;Username=sealpost_messages;Password={password};Database={_env[$"pg_{scope}_database"]}";
            try
            {
                await using var source = Npgsql.NpgsqlDataSource.Create(connection);
                await using var cmd = source.CreateCommand(
                    "SELECT count(*), string_agg(CASE WHEN sender = $2 AND client_id::text = $3 THEN id::text || ' sent ' || sent_at::text END, ',') FROM messages WHERE recipient = $1");
                cmd.Parameters.Add(new() { Value = recipient });
                cmd.Parameters.Add(new() { Value = sender });
                cmd.Parameters.Add(new() { Value = clientId });
                await using var reader = await cmd.ExecuteReaderAsync();
                await reader.ReadAsync();
                parts.Add($"{scope}: {reader.GetInt64(0)} waiting, this one {(reader.IsDBNull(1) ? "not there" : reader.GetString(1))}");
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
            {
                parts.Add($"{scope}: {e.Message}");
            }
        }
        return string.Join("; ", parts);
    }

    /// <summary>For a failure message: what the messages instances logged mentioning <paramref name="text"/> (the last lines of each).</summary>
    public string LogLines(string text, int last = 15) => string.Join('\n', ServiceHosts.Select(host =>
    {
        var file = Path.Combine(_env["logs"].Replace("HOST", host, StringComparison.Ordinal), "messages.log");
        var lines = File.Exists(file) ? File.ReadLines(file).Where(l => l.Contains(text, StringComparison.Ordinal)).TakeLast(last) : [];
        return $"messages on {host} about {text}:\n  " + string.Join("\n  ", lines);
    }));

    /// <summary>The edge host that holds the virtual address now.</summary>
    public async Task<string?> VipHolderAsync()
    {
        foreach (var edge in EdgeHosts)
        {
            var (code, output) = await RunAsync("ip", ["netns", "exec", Namespace(edge), "ip", "-4", "-o", "addr", "show"]);
            if (code == 0 && output.Contains(" " + Url.Host + "/", StringComparison.Ordinal)) return edge;
        }
        return null;
    }

    /// <summary>Runs <c>scripts/cluster ARGS</c>; fails the test when it fails.</summary>
    public async Task ScriptAsync(params string[] args)
    {
        var (code, output) = await RunAsync(Path.Combine(TestEnvironment.RepoRoot, "scripts", "cluster"), args);
        Assert.True(code == 0, $"scripts/cluster {string.Join(' ', args)} exited {code}: {output}");
    }

    /// <summary>A Redis command on one node, as redis-cli runs it (the password from its file, through the environment).</summary>
    public async Task<string> RedisAsync(string node, params string[] args)
    {
        var (host, port) = (node[..node.LastIndexOf(':')], node[(node.LastIndexOf(':') + 1)..]);
        var (_, output) = await RunAsync("redis-cli", ["-h", host, "-p", port, "--no-auth-warning", .. args],
            new Dictionary<string, string> { ["REDISCLI_AUTH"] = (await File.ReadAllTextAsync(RedisPasswordFile)).Trim() });
        return output.Trim();
    }

    public static async Task<(int Code, string Output)> RunAsync(string file, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, output + await errors);
    }

    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
}
