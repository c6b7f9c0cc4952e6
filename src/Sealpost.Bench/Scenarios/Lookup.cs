using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Sealpost.Bench.Infrastructure;
using Sealpost.Protocol;

namespace Sealpost.Bench.Scenarios;

public sealed record LookupOptions(int Clients, TimeSpan Duration, TimeSpan Warmup, int Accounts);

/// <summary>
/// N clients each read public records (<c>GET /v1/accounts/{username}</c>) one after another through HAProxy, over
/// keep-alive connections, as a client looking up a contact's key does. Every answer is checked: the right account
/// and the key it registered with.
/// </summary>
public sealed class Lookup(Context context, LookupOptions options)
{
    private readonly ConcurrentDictionary<string, long> _errors = new(StringComparer.Ordinal);
    private long _wrong;

    public async Task<Report> RunAsync(CancellationToken ct)
    {
        var report = context.NewReport("lookup");
        await context.Pool.EnsureAsync(options.Accounts, context.Api, 4, ct);
        var accounts = context.Pool.Users.Take(options.Accounts)
            .Select(u => (Path: "/v1/accounts/" + u.Username, u.Username, Key: AccountRules.EncodePublicKey(u.Keys.PublicKey))).ToArray();

        using var http = Target.CreateHttpClient(context.Options.Url, options.Clients);
        var start = Clock.Now;
        var windowStart = start + Clock.Ticks(options.Warmup);
        var end = start + Clock.Ticks(options.Duration);
        var workers = new Worker[options.Clients];
        long done = 0, last = 0;
        Console.Error.WriteLine($"lookup: {options.Clients} clients for {options.Duration.TotalSeconds:0} s ({options.Warmup.TotalSeconds:0} s warm-up) over {accounts.Length:N0} accounts");
        CpuSnapshot? cpuBefore = null;
        PgSnapshot? pgBefore = null;
        using (new Progress(() =>
               {
                   var now = Interlocked.Read(ref done);
                   var line = $"lookups {now - last,8:N0}/s  errors {_errors.Values.Sum():N0}";
                   last = now;
                   return line;
               }))
        {
            var tasks = Enumerable.Range(0, options.Clients).Select(i => Task.Run(async () =>
            {
                var w = workers[i] = new Worker();
                var k = i * 7919;
                while (Clock.Now < end && !ct.IsCancellationRequested)
                {
                    var account = accounts[(k++ & int.MaxValue) % accounts.Length];
                    var t0 = Clock.Now;
                    try
                    {
                        using var response = await http.GetAsync(account.Path, HttpCompletionOption.ResponseContentRead, ct);
                        var body = await response.Content.ReadAsByteArrayAsync(ct);
                        var t1 = Clock.Now;
                        if (response.StatusCode != HttpStatusCode.OK) _errors.AddOrUpdate($"HTTP {(int)response.StatusCode}", 1, (_, n) => n + 1);
                        else if (!IsRecordOf(body, account.Username, account.Key)) Interlocked.Increment(ref _wrong);
                        else if (t0 >= windowStart && t1 <= end)
                        {
                            w.Latencies.Add(t1 - t0);
                            w.Ok++;
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
                    {
                        _errors.AddOrUpdate(e.GetType().Name, 1, (_, n) => n + 1);
                    }
                    Interlocked.Increment(ref done);
                }
            }, ct)).ToArray();
            await Task.Delay(options.Warmup, ct);
            cpuBefore = context.Probe.Snapshot();
            if (context.Postgres is not null) pgBefore = await context.Postgres.SnapshotAsync(ct);
            await Task.Delay(options.Duration - options.Warmup, ct);
            var cpu = SystemProbe.Between(cpuBefore, context.Probe.Snapshot());
            var pgAfter = context.Postgres is null ? null : await context.Postgres.SnapshotAsync(ct);
            await Task.WhenAll(tasks);

            var measured = (options.Duration - options.Warmup).TotalSeconds;
            var ok = workers.Sum(w => w.Ok);
            report.Add("setup")
                .Figure("clients", "concurrent clients", options.Clients, "(one keep-alive connection each)")
                .Figure("accounts", "distinct accounts looked up", accounts.Length, "")
                .Text("url", "through", context.Options.Url.ToString())
                .Figure("duration_s", "measured", measured, $"s (after {options.Warmup.TotalSeconds:0} s warm-up)", "0");
            report.Add("throughput").Figure("lookups_per_s", "lookups (200, checked)", ok / measured, "/s");
            report.Add("latency").Latency("lookup", "request → full answer", Latencies.Summarize(workers.Select(w => w.Latencies)));
            report.Add("accounting")
                .Figure("ok", "answers checked", ok, "")
                .Figure("wrong", "answers with the wrong record", Interlocked.Read(ref _wrong), "")
                .Counts("errors", "errors", _errors);
            var bounds = report.Add("what bounds it");
            cpu.AddTo(bounds, ok / measured, "lookup");
            if (pgAfter is not null) PostgresProbe.AddTo(bounds, pgBefore!, pgAfter, 0);
            Context.CheckQuiet(report, cpu);
        }
        if (_wrong > 0) report.Fail($"{_wrong:N0} answers were not the record of the account asked for.");
        if (workers.Sum(w => w.Ok) == 0) report.Fail("no lookup succeeded.");
        if (!_errors.IsEmpty) report.Warn($"{_errors.Values.Sum():N0} lookups failed ({string.Join(", ", _errors.Keys)}).");
        return report;
    }

    private static bool IsRecordOf(byte[] json, string username, string publicKey)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            bool name = false, key = false;
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName) continue;
                if (reader.ValueTextEquals("username"u8)) { reader.Read(); name = reader.ValueTextEquals(username); }
                else if (reader.ValueTextEquals("public_key"u8)) { reader.Read(); key = reader.ValueTextEquals(publicKey); }
            }
            return name && key;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private sealed class Worker
    {
        public Latencies Latencies { get; } = new();

        public long Ok { get; set; }
    }
}
