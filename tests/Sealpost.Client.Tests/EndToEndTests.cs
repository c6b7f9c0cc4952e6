using System.Text.Json;
using Npgsql;
using Sealpost.Cli;
using Sealpost.Client.Messaging;
using Sealpost.Client.Storage;
using Sealpost.Testing;

namespace Sealpost.Client.Tests;

/// <summary>The whole system as scripts/up runs it: HAProxy in front of two users and two messages instances.</summary>
[CollectionDefinition(Name)]
public sealed class StackCollection : ICollectionFixture<SealpostStack>
{
    public const string Name = "client-stack";
}

/// <summary>Two people exchanging messages with the <c>sealpost</c> CLI (run in-process), through HAProxy.</summary>
[Collection(StackCollection.Name)]
public sealed class EndToEndTests(SealpostStack stack) : IDisposable
{
    private readonly List<TempHome> _homes = [];

    public void Dispose()
    {
        foreach (var home in _homes) home.Dispose();
    }

    private async Task<(CliRunner Cli, TempHome Home, string Name)> UserAsync(string prefix)
    {
        var home = new TempHome();
        _homes.Add(home);
        var cli = new CliRunner(home.Path, stack.BaseUrl.ToString());
        var name = TestEnvironment.UniqueUsername(prefix);
        await cli.ExpectAsync(ExitCodes.Ok, "register", name);
        return (cli, home, name);
    }

    private async Task<long> MailboxCountAsync(string recipient)
    {
        await using var connection = new NpgsqlConnection(stack.MessagesConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM messages WHERE recipient = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = recipient });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Acks get no reply, so the test waits (briefly) for the server to have applied them.</summary>
    private async Task<long> MailboxCountSettledAsync(string recipient, long expected)
    {
        var count = await MailboxCountAsync(recipient);
        for (var i = 0; i < 50 && count != expected; i++)
        {
            await Task.Delay(100);
            count = await MailboxCountAsync(recipient);
        }
        return count;
    }

    private static List<JsonElement> Entries(CliResult result) =>
        [.. JsonDocument.Parse(result.Out).RootElement.EnumerateArray().Select(e => e.Clone())];

    [Fact]
    public async Task A_message_to_an_offline_user_is_read_with_inbox_and_the_mailbox_is_empty_afterwards()
    {
        var (alice, _, aliceName) = await UserAsync("alice");
        var (bob, _, bobName) = await UserAsync("bob");

        var sent = await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, "Hi Bob, it's Alice. Nobody else can read this.");
        Assert.Contains("Sent to " + bobName, sent.Out, StringComparison.Ordinal);
        Assert.Equal(1, await MailboxCountAsync(bobName));

        var inbox = Entries(await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--json", "--wait", "1"));

        var message = Assert.Single(inbox);
        Assert.Equal(aliceName, message.GetProperty("peer").GetString());
        Assert.Equal("Hi Bob, it's Alice. Nobody else can read this.", message.GetProperty("text").GetString());
        Assert.Equal(HistoryStatus.Ok, message.GetProperty("status").GetString());
        Assert.Equal(0, await MailboxCountSettledAsync(bobName, 0));
        Assert.Contains("No new messages.", (await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--wait", "1")).Out, StringComparison.Ordinal);
        Assert.Contains("Nobody else can read this.", (await bob.ExpectAsync(ExitCodes.Ok, "history", aliceName)).Out, StringComparison.Ordinal);
        Assert.Contains("Nobody else can read this.", (await alice.ExpectAsync(ExitCodes.Ok, "history", bobName)).Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_rotation_by_bob_is_certified_by_his_identity_key_so_alice_sends_on_and_older_messages_still_open()
    {
        var (alice, _, _) = await UserAsync("alice");
        var (bob, _, bobName) = await UserAsync("bob");
        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, "sealed to your first key");

        // The new key's certificate verifies under the identity key alice pinned: not a key change (docs/devices.md).
        await bob.ExpectAsync(ExitCodes.Ok, "rotate-key");
        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, "sealed to your second key");
        var lookup = await alice.ExpectAsync(ExitCodes.Ok, "lookup", bobName, "--json");

        var inbox = Entries(await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--json", "--wait", "1"));
        Assert.Equal(["sealed to your first key", "sealed to your second key"], inbox.Select(e => e.GetProperty("text").GetString()));
        Assert.Equal([1u, 2u], inbox.Select(e => e.GetProperty("recipient_key_id").GetUInt32()));
        Assert.DoesNotContain("changed", lookup.Out, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, await MailboxCountSettledAsync(bobName, 0));
    }

    [Fact]
    public async Task A_message_from_a_rotated_key_is_verified_through_the_identity_key()
    {
        var (alice, _, aliceName) = await UserAsync("alice");
        var (bob, _, bobName) = await UserAsync("bob");
        await alice.ExpectAsync(ExitCodes.Ok, "lookup", bobName);
        await bob.ExpectAsync(ExitCodes.Ok, "lookup", aliceName);
        await bob.ExpectAsync(ExitCodes.Ok, "rotate-key");

        await bob.ExpectAsync(ExitCodes.Ok, "send", aliceName, "from my new key");
        var inbox = Entries(await alice.ExpectAsync(ExitCodes.Ok, "inbox", "--json", "--wait", "1"));

        var message = Assert.Single(inbox);
        Assert.Equal("from my new key", message.GetProperty("text").GetString());
        Assert.Equal(HistoryStatus.Ok, message.GetProperty("status").GetString());
        await alice.ExpectAsync(ExitCodes.Ok, "lookup", bobName);
    }

    [Fact]
    public async Task A_listening_client_gets_live_messages_once_each()
    {
        var (alice, _, aliceName) = await UserAsync("alice");
        var (_, bobHome, bobName) = await UserAsync("bob");
        await using var bob = new SealpostClient(new SealpostClientOptions
        {
            Server = stack.BaseUrl,
            Profile = bobHome.Profile(),
            Passphrase = () => CliRunner.Passphrase,
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var messages = bob.Messages.ReceiveAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        var first = messages.MoveNextAsync();

        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, "live one");
        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, "live two");

        Assert.True(await first);
        Assert.Equal("live one", messages.Current.Text);
        Assert.Equal(aliceName, messages.Current.Peer);
        Assert.True(await messages.MoveNextAsync());
        Assert.Equal("live two", messages.Current.Text);
        Assert.Equal(0, await MailboxCountSettledAsync(bobName, 0));
        Assert.Equal(2, bob.Messages.History.List(aliceName).Count);
    }

    [Fact]
    public async Task Listen_prints_what_arrives_and_ctrl_c_ends_it_with_exit_0()
    {
        var (alice, _, aliceName) = await UserAsync("alice");
        var (bob, bobHome, bobName) = await UserAsync("bob");
        using var ctrlC = new CancellationTokenSource();
        var listening = bob.RunUntilAsync(ctrlC.Token, null, "listen");

        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, "are you listening?");
        var history = new MessageHistory(bobHome.Profile());
        for (var i = 0; i < 100 && history.List().Count == 0; i++) await Task.Delay(100);
        await ctrlC.CancelAsync();
        var result = await listening;

        Assert.Equal(ExitCodes.Ok, result.ExitCode);
        Assert.Contains($"{aliceName} → you: are you listening?", result.Out, StringComparison.Ordinal);
        Assert.Equal(0, await MailboxCountSettledAsync(bobName, 0));
    }

    [Fact]
    public async Task Sending_to_an_unknown_user_exits_5()
    {
        var (alice, _, _) = await UserAsync("alice");

        await alice.ExpectAsync(ExitCodes.NotFound, "send", TestEnvironment.UniqueUsername("ghost"), "anyone there?");
    }
}
