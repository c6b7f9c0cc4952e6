using System.Collections.Concurrent;
using System.Net;
using NSec.Cryptography;
using Sealpost.Bench.Infrastructure;

namespace Sealpost.Bench.Scenarios;

public sealed record AccountsOptions(int Clients, TimeSpan Duration, int Count);

/// <summary>
/// <c>register</c>: new accounts per second. <c>login</c>: logins per second over the pool's accounts. Both are bound by
/// Argon2id on the users service by design (OWASP minimum: 19 MiB, 2 passes), so the report gives the server CPU each
/// operation cost and, for comparison, one Argon2id hash timed here.
/// </summary>
public sealed class AccountsBench(Context context, AccountsOptions options, bool register)
{
    private readonly ConcurrentDictionary<string, long> _errors = new(StringComparer.Ordinal);

    public async Task<Report> RunAsync(CancellationToken ct)
    {
        var name = register ? "register" : "login";
        var report = context.NewReport(name);
        if (!register) await context.Pool.EnsureAsync(Math.Max(options.Clients, Math.Min(options.Count, 200)), context.Api, 4, ct);
        var argon = TimeArgon2id();

        var start = Clock.Now;
        var end = start + Clock.Ticks(options.Duration);
        var workers = Enumerable.Range(0, options.Clients).Select(_ => new Latencies()).ToArray();
        long done = 0, started = 0;
        var nextIndex = context.Pool.NextIndex();
        var cpuBefore = context.Probe.Snapshot();
        Console.Error.WriteLine($"{name}: {options.Clients} clients, at most {options.Count:N0} operations or {options.Duration.TotalSeconds:0} s");
        long last = 0;
        using (new Progress(() =>
               {
                   var now = Interlocked.Read(ref done);
                   var line = $"{name}s {now - last,6:N0}/s  total {now:N0}  errors {_errors.Values.Sum():N0}";
                   last = now;
                   return line;
               }))
        {
            await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(i => Task.Run(async () =>
            {
                while (Clock.Now < end && !ct.IsCancellationRequested)
                {
                    var n = Interlocked.Increment(ref started) - 1;
                    if (n >= options.Count) break;
                    var t0 = Clock.Now;
                    try
                    {
                        if (register)
                        {
                            var user = context.Pool.NewUser(Interlocked.Increment(ref nextIndex) - 1);
                            var status = await context.Api.TryRegisterAsync(user.Username, user.Password,
                                Protocol.AccountRules.EncodePublicKey(user.Keys.PublicKey), ct);
                            if (status != HttpStatusCode.Created)
                            {
                                _errors.AddOrUpdate($"HTTP {(int)status}", 1, (_, c) => c + 1);
                                continue;
                            }
                            lock (context.Pool.Users) context.Pool.Users.Add(user);
                        }
                        else
                        {
                            var user = context.Pool.Users[(int)(n % context.Pool.Users.Count)];
                            var (status, session) = await context.Api.TryLoginAsync(user.Username, user.Password, ct);
                            if (session is null)
                            {
                                _errors.AddOrUpdate($"HTTP {(int)status}", 1, (_, c) => c + 1);
                                continue;
                            }
                            user.RefreshToken = session.RefreshToken;
                        }
                        workers[i].Add(Clock.Now - t0);
                        Interlocked.Increment(ref done);
                    }
                    catch (HttpRequestException e)
                    {
                        _errors.AddOrUpdate(e.GetType().Name, 1, (_, c) => c + 1);
                    }
                }
            }, ct)));
        }
        var elapsed = Clock.SecondsSince(start);
        var cpu = SystemProbe.Between(cpuBefore, context.Probe.Snapshot());
        context.Pool.Save();

        var ops = Interlocked.Read(ref done);
        var usersCpu = cpu.Roles.GetValueOrDefault("users");
        report.Add("setup")
            .Figure("clients", "concurrent clients", options.Clients, "")
            .Text("url", "through", context.Options.Url.ToString())
            .Figure("duration_s", "measured", elapsed, "s", "0.0");
        report.Add("throughput").Figure(name + "s_per_s", name + "s", ops / elapsed, "/s", "0.0");
        report.Add("latency").Latency(name, "request → answer", Latencies.Summarize(workers));
        var cost = report.Add("cost");
        if (ops > 0 && usersCpu > 0) cost.Figure("users_cpu_ms_per_op", "users service CPU per " + name, usersCpu / 100 * elapsed / ops * 1000, "ms", "0.0");
        cost.Figure("argon2id_ms_here", "one Argon2id (m=19456 KiB, t=2, p=1) timed here", argon, "ms", "0.0");
        report.Add("accounting").Figure("ok", name + "s done", ops, "").Counts("errors", "errors", _errors);
        var bounds = report.Add("what bounds it");
        cpu.AddTo(bounds);
        Context.CheckQuiet(report, cpu);
        if (ops == 0) report.Fail($"no {name} succeeded.");
        if (!_errors.IsEmpty) report.Warn($"{_errors.Values.Sum():N0} {name}s failed ({string.Join(", ", _errors.Keys)}).");
        return report;
    }

    /// <summary>The server's hash, timed on one core here: the floor under every register and login.</summary>
    private static double TimeArgon2id()
    {
        var argon = PasswordBasedKeyDerivationAlgorithm.Argon2id(new Argon2Parameters { DegreeOfParallelism = 1, MemorySize = 19456, NumberOfPasses = 2 });
        var salt = new byte[16];
        argon.DeriveBytes("warm-up password", salt, 32);
        var t0 = Clock.Now;
        for (var i = 0; i < 5; i++) argon.DeriveBytes("benchmark password", salt, 32);
        return Clock.SecondsSince(t0) / 5 * 1000;
    }
}
