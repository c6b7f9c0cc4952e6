using System.CommandLine;
using System.Globalization;
using Sealpost.Bench.Infrastructure;
using Sealpost.Bench.Scenarios;
using Sealpost.Protocol;

namespace Sealpost.Bench;

/// <summary>The command tree: one subcommand per scenario, sharing the options that say where the system is.</summary>
public static class BenchApp
{
    private static readonly Option<string?> Url = new("--url") { Description = "Base URL of the system (HAProxy) (default: the url in .run/stack.env, else http://127.0.0.1:8080)", Recursive = true };
    private static readonly Option<bool> Json = new("--json") { Description = "Print the report as JSON on stdout (progress stays on stderr)", Recursive = true };
    private static readonly Option<string?> Pool = new("--pool") { Description = "Pool file of benchmark accounts (default ~/.cache/sealpost-bench/pool-HOST-PORT.json)", Recursive = true };
    private static readonly Option<string?> RunDir = new("--run-dir") { Description = "The .run folder of the system, whose stack.env says where its processes and database are (default: the nearest .run/ above here)", Recursive = true };
    private static readonly Option<string?> Pids = new("--pids") { Description = "Comma-separated pids of the messages processes (default: .run/pids/messages*.pid)", Recursive = true };
    private static readonly Option<string?> Postgres = new("--pg") { Description = "Connection string of the messages database, for commit counts (default: from .run/stack.env)", Recursive = true };
    private static readonly Option<double> UserFps = new("--user-fps") { Description = "Frames per second each user may send (sends + acks), kept under the server's per-user limit; 0 = unpaced", DefaultValueFactory = _ => 190, Recursive = true };
    private static readonly Option<string?> Direct = new("--direct") { Description = "Connect sockets straight to these messages instances (host:port,…) instead of through HAProxy", Recursive = true };
    private static readonly Option<bool> Quiet = new("--quiet") { Description = "No progress lines", Recursive = true };

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var root = new RootCommand("sealpost-bench: loads a running Sealpost like real clients do and reports figures anyone can reproduce (docs/benchmarks.md).");
        foreach (var o in new Option[] { Url, Json, Pool, RunDir, Pids, Postgres, UserFps, Direct, Quiet }) root.Options.Add(o);
        root.Subcommands.Add(LookupCommand(args));
        root.Subcommands.Add(AccountsCommand(args, register: true));
        root.Subcommands.Add(AccountsCommand(args, register: false));
        root.Subcommands.Add(RelayCommand(args));
        root.Subcommands.Add(DrainCommand(args));
        root.Subcommands.Add(ConnectionsCommand(args));
        root.Subcommands.Add(XmppRelayCommand(args));
        root.Subcommands.Add(WorkerCommand());
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        try
        {
            return await root.Parse(args).InvokeAsync(config, ct);
        }
        catch (BenchException e)
        {
            await Console.Error.WriteLineAsync("sealpost-bench: " + e.Message);
            return ExitCodes.SetupFailed;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("sealpost-bench: interrupted.");
            return ExitCodes.Interrupted;
        }
    }

    private static Option<T> Opt<T>(string name, string description, T value) =>
        new(name) { Description = description, DefaultValueFactory = _ => value };

    private static Command LookupCommand(string[] args)
    {
        var clients = Opt("--clients", "Concurrent clients, each on its own keep-alive connection", 64);
        var duration = Opt("--duration", "Seconds to run, warm-up included", 20);
        var warmup = Opt("--warmup", "Seconds at the start left out of the figures", 3);
        var accounts = Opt("--accounts", "Distinct accounts to look up", 100);
        var command = new Command("lookup", "Public-record lookups per second through HAProxy, with latency percentiles") { clients, duration, warmup, accounts };
        command.SetAction((r, ct) => RunScenarioAsync(r, args, 4, ct, c =>
            new Lookup(c, new LookupOptions(r.GetValue(clients), Seconds(r.GetValue(duration)), Seconds(r.GetValue(warmup)), r.GetValue(accounts))).RunAsync(ct)));
        return command;
    }

    private static Command AccountsCommand(string[] args, bool register)
    {
        var clients = Opt("--clients", "Concurrent clients", 4);
        var duration = Opt("--duration", "Seconds to run at most", 30);
        var count = Opt("--count", "Operations to do at most", register ? 300 : 1000);
        var command = new Command(register ? "register" : "login",
            register ? "Accounts registered per second (Argon2id-bound by design; reports the cost); they join the pool"
                     : "Logins per second over the pool's accounts (Argon2id-bound by design; reports the cost)") { clients, duration, count };
        command.SetAction((r, ct) => RunScenarioAsync(r, args, r.GetValue(clients), ct, c =>
            new AccountsBench(c, new AccountsOptions(r.GetValue(clients), Seconds(r.GetValue(duration)), r.GetValue(count)), register).RunAsync(ct)));
        return command;
    }

    private static Command RelayCommand(string[] args)
    {
        var load = RelayLoad.Create(pairs: 200, duration: 20);
        var encryptEach = Opt("--encrypt-each", "Seal and open every message in the clients (an end-user figure; the clients' crypto then shares the cores)", false);
        var envelopes = Opt("--envelopes", "Distinct pre-sealed envelopes per direction", 8);
        var firstUser = Opt("--first-user", "Index of the first pool account to use (accounts the servers have not seen lately start with cold caches)", 0);
        var command = new Command("relay", "Online pairs send to each other; delivered msgs/s and end-to-end latency") { firstUser, encryptEach, envelopes };
        load.AddTo(command);
        command.SetAction((r, ct) => RunScenarioAsync(r, args, 16, ct, c =>
        {
            if (r.GetValue(load.Size) is < 0 or > Sealpost.Crypto.EnvelopeV2.MaxBodySize) throw new BenchException($"--size is 0 to {Sealpost.Crypto.EnvelopeV2.MaxBodySize} bytes.");
            load.Validate(r);
            return new Relay(c, new RelayOptions(Math.Max(0, r.GetValue(firstUser)), r.GetValue(load.Pairs), Seconds(r.GetValue(load.Duration)), Seconds(r.GetValue(load.Warmup)),
                r.GetValue(load.Rate), r.GetValue(load.InFlight), r.GetValue(load.Size), r.GetValue(encryptEach), Math.Max(1, r.GetValue(envelopes)), Seconds(r.GetValue(load.Grace)))).RunAsync(ct);
        }));
        return command;
    }

    private static Command DrainCommand(string[] args)
    {
        var recipients = Opt("--recipients", "Offline users (K) the messages are queued for", 200);
        var messages = Opt("--messages", "Messages queued in all (M)", 100_000);
        var senders = Opt("--senders", "Users that queue the messages", 100);
        var inflight = Opt("--inflight", "Sends per sender between send and accepted, at most", 32);
        var size = Opt("--size", "Plaintext bytes per message", 256);
        var timeout = Opt("--timeout", "Seconds the drain may take before the run fails", 180);
        var firstUser = Opt("--first-user", "Index of the first pool account to use (recipients first, then senders)", 0);
        var command = new Command("drain", "M messages queued for K offline users, who then connect: time to empty the mailboxes") { firstUser, recipients, messages, senders, inflight, size, timeout };
        command.SetAction((r, ct) => RunScenarioAsync(r, args, 16, ct, c =>
        {
            if (r.GetValue(recipients) < 1 || r.GetValue(senders) < 1 || r.GetValue(messages) < 1) throw new BenchException("--recipients, --senders and --messages must be positive.");
            return new Drain(c, new DrainOptions(Math.Max(0, r.GetValue(firstUser)), r.GetValue(recipients), r.GetValue(messages), r.GetValue(senders), r.GetValue(inflight), r.GetValue(size),
                Seconds(r.GetValue(timeout)))).RunAsync(ct);
        }));
        return command;
    }

    private static Command ConnectionsCommand(string[] args)
    {
        var count = Opt("--count", "Idle authenticated sockets to hold (C)", 1000);
        var processes = Opt("--processes", "Load-generator processes to spread them over (at most ~19,000 sockets each)", 1);
        var perUser = Opt("--sockets-per-user", "Sockets per account (1 = one account per socket, as real clients)", 1);
        var settle = Opt("--settle", "Seconds to wait after the last socket opened before reading memory", 10);
        var idle = Opt("--idle-seconds", "Seconds over which idle CPU is measured", 10);
        var concurrency = Opt("--connect-concurrency", "Sockets being opened at once", 64);
        var command = new Command("connections", "C idle authenticated sockets: server memory per socket and CPU at idle") { count, processes, perUser, settle, idle, concurrency };
        command.SetAction((r, ct) => RunScenarioAsync(r, args, 16, ct, c =>
            new Connections(c, new ConnectionsOptions(r.GetValue(count), Math.Max(1, r.GetValue(processes)), Math.Max(1, r.GetValue(perUser)),
                Seconds(r.GetValue(settle)), Seconds(r.GetValue(idle)), Math.Max(1, r.GetValue(concurrency)))).RunAsync(ct)));
        return command;
    }

    private static Command XmppRelayCommand(string[] args)
    {
        var load = RelayLoad.Create(pairs: 50, duration: 10);
        var domain = Opt("--domain", "The XMPP domain of the accounts", "bench.local");
        var prefix = Opt("--user-prefix", "Accounts are PREFIX0 to PREFIX(2 x pairs - 1), all with --password", "u");
        var password = Opt("--password", "Password of every account (throwaway benchmark accounts on loopback)", "bench-password");
        var haproxyPids = Opt<string?>("--haproxy-pids", "Comma-separated pids of a HAProxy in front, whose CPU counts too", null);
        var command = new Command("xmpp-relay", "relay's load against an XMPP server over WebSocket (ejabberd, benchmarks/ejabberd.sh); --url ws://…/ws, --pids: the server's processes")
            { domain, prefix, password, haproxyPids };
        load.AddTo(command);
        command.SetAction(async (r, ct) =>
        {
            Progress.Quiet = r.GetValue(Quiet);
            var url = new Uri(r.GetValue(Url) ?? "ws://127.0.0.1:29580/ws");
            Target.RequireLoopback(url);
            if (r.GetValue(load.Size) < 1) throw new BenchException("--size must be positive.");
            load.Validate(r);
            var report = await new XmppRelay(new XmppRelayOptions(url, r.GetValue(domain)!, r.GetValue(prefix)!, r.GetValue(password)!, r.GetValue(load.Pairs),
                Seconds(r.GetValue(load.Duration)), Seconds(r.GetValue(load.Warmup)), r.GetValue(load.Rate), r.GetValue(load.InFlight), r.GetValue(load.Size), Seconds(r.GetValue(load.Grace)),
                PidList(r.GetValue(Pids)), PidList(r.GetValue(haproxyPids)), "sealpost-bench " + string.Join(' ', args))).RunAsync(ct);
            report.Write(Console.Out, r.GetValue(Json));
            return report.ExitCode;
        });
        return command;
    }

    private static Command WorkerCommand()
    {
        var file = new Argument<string>("targets") { Description = "File of 'endpoint TAB token' lines; deleted once read" };
        var concurrency = Opt("--connect-concurrency", "Sockets being opened at once", 32);
        var command = new Command("connections-worker", "(internal) holds a share of the sockets of a connections run") { file, concurrency };
        command.Hidden = true;
        command.SetAction((r, ct) => Connections.WorkerAsync(r.GetValue(file)!, r.GetValue(concurrency), ct));
        return command;
    }

    private static async Task<int> RunScenarioAsync(ParseResult r, string[] args, int httpConnections, CancellationToken ct, Func<Context, Task<Report>> scenario)
    {
        Progress.Quiet = r.GetValue(Quiet);
        var stack = StackFile.Find(r.GetValue(RunDir));
        var url = new Uri(r.GetValue(Url) ?? stack?["url"] ?? "http://127.0.0.1:8080");
        Target.RequireLoopback(url);
        var pids = r.GetValue(Pids) is { Length: > 0 } p ? PidList(p) : null;
        var options = new CommonOptions(url, r.GetValue(Json), r.GetValue(Pool) ?? UserPool.DefaultPath(url), stack, pids, r.GetValue(Postgres),
            r.GetValue(UserFps), r.GetValue(Direct), "sealpost-bench " + string.Join(' ', args));
        await using var context = await Context.OpenAsync(options, httpConnections, ct);
        var report = await scenario(context);
        report.Write(Console.Out, options.Json);
        return report.ExitCode;
    }

    /// <summary>The options of the load that relay and xmpp-relay both apply.</summary>
    private sealed record RelayLoad(Option<int> Pairs, Option<int> Duration, Option<int> Warmup, Option<double> Rate, Option<int> InFlight, Option<int> Size, Option<int> Grace)
    {
        public static RelayLoad Create(int pairs, int duration) => new(
            Opt("--pairs", "Online pairs (two users, one socket each) sending to each other", pairs),
            Opt("--duration", "Seconds of sending, warm-up included", duration),
            Opt("--warmup", "Seconds at the start left out of the figures", 3),
            Opt("--rate", "Fixed total send rate in msgs/s (open loop); 0 = as fast as delivered (closed loop)", 0.0),
            Opt("--inflight", "Messages per socket between send and delivery, at most", 8),
            Opt("--size", "Plaintext (message body) bytes per message", 256),
            Opt("--grace", "Seconds to wait for the last deliveries after sending stops", 15));

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { Pairs, Duration, Warmup, Rate, InFlight, Size, Grace }) command.Options.Add(option);
        }

        public void Validate(ParseResult r)
        {
            if (r.GetValue(Pairs) < 1 || r.GetValue(InFlight) < 1 || r.GetValue(Duration) <= r.GetValue(Warmup))
                throw new BenchException("--pairs and --inflight must be positive, and --duration longer than --warmup.");
        }
    }

    private static int[] PidList(string? list) =>
        (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();

    private static TimeSpan Seconds(int s) => TimeSpan.FromSeconds(s);
}
