using Sealpost.Bench.Infrastructure;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Bench.Scenarios;

/// <summary>Options every scenario shares.</summary>
public sealed record CommonOptions(
    Uri Url, bool Json, string PoolPath, StackFile? Stack, IReadOnlyList<int>? MessagesPids, string? Postgres,
    double UserFramesPerSecond, string? Direct, string CommandLine);

/// <summary>What a scenario works with: the REST client, the account pool, the process and database probes.</summary>
public sealed class Context : IAsyncDisposable
{
    private Context(CommonOptions options, HttpClient http, UserPool pool, SystemProbe probe, PostgresProbe? pg)
    {
        Options = options;
        Http = http;
        Api = new UsersApi(http);
        Pool = pool;
        Probe = probe;
        Postgres = pg;
    }

    public CommonOptions Options { get; }

    public HttpClient Http { get; }

    public UsersApi Api { get; }

    public UserPool Pool { get; }

    public SystemProbe Probe { get; }

    public PostgresProbe? Postgres { get; }

    public static async Task<Context> OpenAsync(CommonOptions options, int httpConnections, CancellationToken ct)
    {
        var http = Target.CreateHttpClient(options.Url, httpConnections);
        try
        {
            using var response = await http.GetAsync("/.well-known/jwks.json", ct);
            if (!response.IsSuccessStatusCode) throw new BenchException($"{options.Url} answered {(int)response.StatusCode} to /.well-known/jwks.json: is Sealpost up (scripts/up -d)?");
        }
        catch (HttpRequestException e)
        {
            http.Dispose();
            throw new BenchException($"{options.Url} does not answer ({e.Message}): start the system with scripts/up -d, or pass --url.", e);
        }
        var probe = SystemProbe.Discover(options.Stack, options.MessagesPids);
        var pg = await PostgresProbe.TryOpenAsync(options.Postgres, options.Stack, ct);
        return new Context(options, http, UserPool.Load(options.PoolPath), probe, pg);
    }

    public Report NewReport(string scenario) => new(scenario, Options.CommandLine);

    /// <summary>Says so in the report when something else was using the cores during the measurement.</summary>
    public static void CheckQuiet(Report report, CpuUsage cpu)
    {
        var other = cpu.Machine - cpu.Roles.Values.Sum();
        if (other > 25)
            report.Warn($"processes outside the system under test used {other:0} % of a core during the measurement (other work on the machine?): the figures may be low; re-run when the machine is quiet.");
        if (Machine.LoadAverage1() > Environment.ProcessorCount * 2.5)
            report.Warn($"the load average was {Machine.LoadAverage()} at the end: other work may have competed for the cores.");
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (Postgres is not null) await Postgres.DisposeAsync();
    }
}
