using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Sealpost.Protocol;
using Sealpost.Testing;
using Xunit.Abstractions;

namespace Sealpost.System.Tests;

/// <summary>
/// What an operator sees, on a stack started by scripts/up itself (in a state folder and on ports of the test's own):
/// the instance that handled a message counts it, the others do not, and Prometheus scrapes every target.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class MonitoringTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Scripts_up_starts_a_stack_whose_handling_instance_counts_a_message_and_whose_Prometheus_sees_every_target_up()
    {
        var run = Path.Combine(TestEnvironment.WorkDir, "run-" + Guid.NewGuid().ToString("N")[..8]);
        var environment = new Dictionary<string, string>
        {
            ["SEALPOST_RUN"] = run,
            ["SEALPOST_NO_BUILD"] = "1",
            ["SEALPOST_SCRAPE_INTERVAL"] = "1s",
            ["SEALPOST_PORT"] = Port(), ["SEALPOST_TLS_PORT"] = Port(), ["SEALPOST_STATS_PORT"] = Port(), ["SEALPOST_PROMETHEUS_PORT"] = Port(),
            ["SEALPOST_PG_PORT"] = Port(), ["SEALPOST_REDIS_PORT"] = Port(),
            ["SEALPOST_USERS_PORTS"] = $"{Port()} {Port()}", ["SEALPOST_MESSAGES_PORTS"] = $"{Port()} {Port()}",
            ["SEALPOST_USERS_MANAGEMENT_PORTS"] = $"{Port()} {Port()}", ["SEALPOST_MESSAGES_MANAGEMENT_PORTS"] = $"{Port()} {Port()}",
            // The mailbox census follows each sweep: every second here, so the gauges move within the test.
            ["Mailboxes__SweepInterval"] = "00:00:01",
        };
        try
        {
            await ScriptAsync("up", environment, "-d");
            var stack = StackFile.Read(Path.Combine(run, StackFile.FileName));
            var url = new Uri(stack["url"]!);
            var messages = stack.Instances("messages_management");
            var users = stack.Instances("users_management");
            Assert.Equal(2, messages.Count);
            Assert.Equal(2, users.Count);

            var usersBefore = await ScrapeAsync(users);
            var api = new UsersApi(new HttpClient { BaseAddress = url });
            var alice = await api.NewUserAsync("mon");
            var bob = await api.NewUserAsync("mon");
            var usersAfter = await ScrapeAsync(users);
            Assert.Equal(2, Moved(usersBefore, usersAfter, "sealpost_logins_total", ("outcome", "succeeded")).Values.Sum());
            Assert.Equal(2, Moved(usersBefore, usersAfter, "http_server_request_duration_seconds_count",
                ("http_route", "/v1/accounts/"), ("http_response_status_code", "201")).Values.Sum());

            // Bob is offline: the message is stored, on the instance whose socket took the send.
            var before = await ScrapeAsync(messages);
            var socketUrl = new Uri(url.ToString().Replace("http://", "ws://", StringComparison.Ordinal) + "v1/ws");
            await using (var sender = await ProtocolClient.ConnectAsync(socketUrl, alice.AccessToken))
            {
                var answer = await sender.SendMessageAsync(bob.Username, Convert.ToBase64String("hello"u8));
                Assert.Equal("accepted", answer.Type);
            }
            var after = await ScrapeAsync(messages);
            var sends = Moved(before, after, "sealpost_socket_frames_received_total", ("type", "send"));
            output.WriteLine("sends counted: " + string.Join(", ", sends.Select(s => $"{s.Key} {s.Value}")));
            var handler = Assert.Single(sends, s => s.Value == 1).Key;
            Assert.All(sends.Where(s => s.Key != handler), s => Assert.Equal(0, s.Value));
            Assert.Equal(1, Moved(before, after, "sealpost_messages_accepted_total", ("outcome", "stored"))[handler]);
            Assert.Equal(1, Moved(before, after, "sealpost_socket_frames_sent_total", ("type", "accepted"))[handler]);
            Assert.True(Moved(before, after, "sealpost_mailbox_write_batch_messages_count", ("op", "store"))[handler] >= 1);
            await Eventually.HoldsAsync(async () => Value((await ScrapeAsync(messages))[handler], "sealpost_mailbox_messages") == 1,
                "the mailbox census did not count the stored message");

            // Bob comes online: his instance delivers from the mailbox and counts his ack.
            await using (var recipient = await ProtocolClient.ConnectAsync(socketUrl, bob.AccessToken))
            {
                var message = await recipient.NextOfTypeAsync("message");
                await recipient.AckAsync(message.MessageId!);
                await Eventually.HoldsAsync(async () =>
                {
                    var now = await ScrapeAsync(messages);
                    return Moved(after, now, "sealpost_messages_delivered_total", ("source", "mailbox")).Values.Sum() == 1
                        && Moved(after, now, "sealpost_messages_acknowledged_total").Values.Sum() == 1;
                }, "the recipient's instance did not count the delivery and the ack");
            }

            // Metrics are on the instances' management addresses, never through the public frontend nor on the service
            // addresses HAProxy forwards to (security review L1).
            using (var response = await api.Http.GetAsync("metrics")) Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            using (var plain = new HttpClient())
            {
                foreach (var (name, address) in stack.Instances("users").Concat(stack.Instances("messages")))
                    foreach (var path in new[] { "metrics", "readyz" })
                        using (var response = await plain.GetAsync($"http://{address}/{path}"))
                            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{name} answered /{path} on its service address: {(int)response.StatusCode}");
            }

            using var prometheus = new HttpClient { BaseAddress = new Uri(stack["prometheus"]!) };
            await Eventually.HoldsAsync(async () =>
            {
                using var targets = JsonDocument.Parse(await prometheus.GetStringAsync("api/v1/targets"));
                var active = targets.RootElement.GetProperty("data").GetProperty("activeTargets").EnumerateArray()
                    .Select(t => (Instance: t.GetProperty("labels").GetProperty("instance").GetString(), Health: t.GetProperty("health").GetString())).ToList();
                output.WriteLine(string.Join(", ", active.Select(t => $"{t.Instance} {t.Health}")));
                return active.Count == 6 && active.All(t => t.Health == "up");
            }, "Prometheus did not report all six targets (users ×2, messages ×2, haproxy, prometheus) up", seconds: 30);
            await Eventually.HoldsAsync(async () => await QueryAsync(prometheus, "sum(sealpost_messages_accepted_total)") == 1,
                "Prometheus did not scrape the accepted message", seconds: 20);
            using var rules = JsonDocument.Parse(await prometheus.GetStringAsync("api/v1/rules"));
            var loaded = rules.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
                .SelectMany(g => g.GetProperty("rules").EnumerateArray()).Where(r => r.GetProperty("health").GetString() == "ok").Count();
            Assert.True(loaded >= 20, $"{loaded} healthy rules");

            await AssertLeastPrivilegeAsync(run, stack);
        }
        finally
        {
            await ScriptAsync("down", environment);
        }
        Assert.False(File.Exists(Path.Combine(run, StackFile.FileName)));
        Assert.Empty(Directory.GetFiles(Path.Combine(run, "pids")));
    }

    /// <summary>
    /// docs/security.md, item 9: run as root, scripts/up leaves root to nobody but PostgreSQL's own account; each service
    /// logs in to its own database as a role that is no superuser and cannot reach the other's; Redis wants a password.
    /// </summary>
    private static async Task AssertLeastPrivilegeAsync(string run, StackFile stack)
    {
        if (Environment.UserName == "root")
        {
            foreach (var role in new[] { "users", "messages", "haproxy", "redis", "prometheus" })
            {
                foreach (var pidFile in stack["pids_" + role]!.Split(' '))
                {
                    var pid = File.ReadAllText(pidFile).Trim();
                    var uid = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
                    Assert.DoesNotContain("\t0\t", uid + "\t", StringComparison.Ordinal);
                }
            }
        }

        var postgres = stack["postgres"]!.Split(':');
        string Login(string role, string database) => new Npgsql.NpgsqlConnectionStringBuilder
        {
            Host = postgres[0], Port = int.Parse(postgres[1], CultureInfo.InvariantCulture), Database = database, Username = role,
            Password = File.ReadAllText(Path.Combine(run, "secrets", "pg-" + role["sealpost_".Length..] + "-password")).Trim(), Pooling = false,
        }.ConnectionString;
        foreach (var (role, other) in new[] { ("sealpost_users", "sealpost_messages"), ("sealpost_messages", "sealpost_users") })
        {
            await using (var own = new Npgsql.NpgsqlConnection(Login(role, role)))
            {
                await own.OpenAsync();
                await using var query = new Npgsql.NpgsqlCommand("SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = current_user", own);
                Assert.False((bool)(await query.ExecuteScalarAsync())!, role + " may do more than use its own database");
            }
            await using var foreign = new Npgsql.NpgsqlConnection(Login(role, other));
            var refused = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => foreign.OpenAsync());
            Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        }

        var redis = stack["redis"]!.Split(':');
        Assert.StartsWith("-NOAUTH", await RedisAsync(redis[0], int.Parse(redis[1], CultureInfo.InvariantCulture), "PUBLISH sealpost:flush x"));
        var password = File.ReadAllText(stack["redis_password_file"]!).Trim();
        Assert.Equal("+OK", await RedisAsync(redis[0], int.Parse(redis[1], CultureInfo.InvariantCulture), $"AUTH {password}"));
    }

    /// <summary>One inline command to Redis on a fresh connection, and the first line of its answer.</summary>
    private static async Task<string> RedisAsync(string host, int port, string command)
    {
        using var tcp = new global::System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(host, port);
        await using var stream = tcp.GetStream();
        await stream.WriteAsync(global::System.Text.Encoding.ASCII.GetBytes(command + "\r\n"));
        using var reader = new StreamReader(stream);
        return await reader.ReadLineAsync() ?? "";
    }

    private static string Port() => Ports.Free().ToString(CultureInfo.InvariantCulture);

    private async Task ScriptAsync(string script, Dictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo(Path.Combine(TestEnvironment.RepoRoot, "scripts", script))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var (key, value) in environment) info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        output.WriteLine($"scripts/{script}: {stdout}{await stderr}");
        Assert.Equal(0, process.ExitCode);
    }

    private static async Task<Dictionary<string, string>> ScrapeAsync(IReadOnlyList<(string Name, string Address)> instances)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var texts = await Task.WhenAll(instances.Select(i => http.GetStringAsync($"http://{i.Address}/metrics")));
        return instances.Select((i, k) => (i.Name, texts[k])).ToDictionary(p => p.Name, p => p.Item2);
    }

    /// <summary>How much a series (summed over the lines whose labels match) grew on each instance.</summary>
    private static Dictionary<string, double> Moved(
        Dictionary<string, string> before, Dictionary<string, string> after, string name, params (string Key, string Value)[] labels) =>
        after.ToDictionary(a => a.Key, a => Value(a.Value, name, labels) - Value(before[a.Key], name, labels));

    /// <summary>The sum of a metric's samples in Prometheus's text format, over the series that carry these labels.</summary>
    private static double Value(string text, string name, params (string Key, string Value)[] labels) =>
        text.Split('\n')
            .Where(line => (line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal))
                && labels.All(l => line.Contains($"{l.Key}=\"{l.Value}\"", StringComparison.Ordinal)))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    private static async Task<double> QueryAsync(HttpClient prometheus, string query)
    {
        using var result = JsonDocument.Parse(await prometheus.GetStringAsync("api/v1/query?query=" + Uri.EscapeDataString(query)));
        var series = result.RootElement.GetProperty("data").GetProperty("result");
        return series.GetArrayLength() == 0 ? double.NaN
            : double.Parse(series[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
    }
}
