using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Sealpost.Client;
using Sealpost.Client.Contacts;
using Sealpost.Client.State;

namespace Sealpost.Cli;

/// <summary>The <c>sealpost</c> command line: the command tree, and turning every failure into one line and an exit code.</summary>
public sealed partial class CliApp
{
    public const string DefaultServer = "http://127.0.0.1:8080";

    private readonly CliConsole _console;
    private readonly Option<string?> _server = new("--server") { Description = "Server base URL (else $SEALPOST_SERVER, the profile's server, config.json, " + DefaultServer + ")", Recursive = true };
    private readonly Option<string?> _profile = new("--profile") { Description = "Local profile (else $SEALPOST_PROFILE, else 'default'); one account per profile", Recursive = true };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON for scripts instead of text for people", Recursive = true };

    public CliApp(CliConsole console) => _console = console;

    /// <summary>Knobs tests turn: shorter reconnect waits and the like.</summary>
    public Sealpost.Client.Messaging.ConnectionOptions? ConnectionOptions { get; init; }

    /// <summary>Runs one command line and returns its exit code.</summary>
    public async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var root = Build();
        var parsed = root.Parse(args);
        var config = new InvocationConfiguration
        {
            Output = _console.Out,
            Error = _console.Error,
            // We turn exceptions into one line and an exit code ourselves; Ctrl-C arrives through ct.
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        };
        try
        {
            return await parsed.InvokeAsync(config, ct).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            var (code, message) = ExitCodes.Of(e);
            if (code == ExitCodes.Interrupted && ct.IsCancellationRequested && IsListen(parsed)) return ExitCodes.Ok;
            await _console.Error.WriteLineAsync("sealpost: " + message).ConfigureAwait(false);
            return code;
        }
    }

    private static bool IsListen(ParseResult parsed) => parsed.CommandResult.Command.Name == "listen";

    private RootCommand Build()
    {
        var root = new RootCommand("Sealpost: end-to-end encrypted messages. Keys live here; the servers only see ciphertext.");
        root.Options.Add(_server);
        root.Options.Add(_profile);
        root.Options.Add(_json);
        root.Subcommands.Add(RegisterCommand());
        root.Subcommands.Add(LoginCommand());
        root.Subcommands.Add(WhoAmICommand());
        root.Subcommands.Add(LookupCommand());
        root.Subcommands.Add(FingerprintCommand());
        root.Subcommands.Add(TrustCommand());
        root.Subcommands.Add(SendCommand());
        root.Subcommands.Add(ListenCommand());
        root.Subcommands.Add(InboxCommand());
        root.Subcommands.Add(HistoryCommand());
        root.Subcommands.Add(RotateKeyCommand());
        root.Subcommands.Add(LogoutCommand());
        root.Subcommands.Add(EnvelopeCommand());
        return root;
    }

    // ---- plumbing shared by the commands ----

    private string Env(string name) => _console.Environment(name) is { Length: > 0 } value ? value : "";

    private ProfileFolder ProfileOf(ParseResult r)
    {
        var home = ProfileFolder.DefaultHome(n => _console.Environment(n));
        var name = r.GetValue(_profile) ?? (Env("SEALPOST_PROFILE") is { Length: > 0 } p ? p : ProfileFolder.DefaultProfile);
        return new ProfileFolder(home, name);
    }

    /// <summary>--server, else $SEALPOST_SERVER, else the server this profile logged in to, else config.json, else the default.</summary>
    internal Uri ServerOf(ParseResult r, ProfileFolder profile)
    {
        var text = r.GetValue(_server);
        if (string.IsNullOrEmpty(text)) text = Env("SEALPOST_SERVER");
        if (string.IsNullOrEmpty(text)) text = profile.ReadAccount()?.Server;
        if (string.IsNullOrEmpty(text)) text = profile.ReadConfig()?.Server;
        if (string.IsNullOrEmpty(text)) text = DefaultServer;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new SealpostException(ErrorKind.Invalid, $"The server address \"{text}\" is not an http:// or https:// URL.");
        return uri;
    }

    private SealpostClient ClientOf(ParseResult r, Func<string>? passphrase = null)
    {
        var profile = ProfileOf(r);
        var client = new SealpostClient(new SealpostClientOptions
        {
            Server = ServerOf(r, profile),
            Profile = profile,
            Passphrase = passphrase ?? (() => Secret("SEALPOST_PASSPHRASE", "Passphrase for your private key: ")),
            Connection = ConnectionOptions,
        });
        client.Notice += m => _console.Error.WriteLine("sealpost: " + m);
        return client;
    }

    /// <summary>From the environment variable if set, else a prompt without echo; with neither, a usage error.</summary>
    private string Secret(string variable, string prompt, bool confirm = false)
    {
        if (Env(variable) is { Length: > 0 } value) return value;
        var first = _console.ReadSecret(prompt)
            ?? throw new SealpostException(ErrorKind.Invalid, $"There is no terminal to ask on: set {variable}.");
        if (first.Length == 0) throw new SealpostException(ErrorKind.Invalid, "Nothing was typed.");
        if (confirm && _console.ReadSecret("Again, to be sure: ") != first) throw new SealpostException(ErrorKind.Invalid, "The two entries differ.");
        return first;
    }

    private bool Json(ParseResult r) => r.GetValue(_json);

    private void Print(ParseResult r, JsonNode json, string human)
    {
        if (Json(r)) _console.Out.WriteLine(json.ToJsonString());
        else _console.Out.WriteLine(human);
    }

    private static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static JsonObject StatusJson(ContactStatus s) => new()
    {
        ["username"] = s.Username,
        ["display_name"] = s.DisplayName,
        ["state"] = StateName(s.State),
        ["key_id"] = s.TrustedKeyId,
        ["public_key"] = s.TrustedPublicKey,
        ["fingerprint"] = s.TrustedFingerprint,
        ["pending"] = s.Pending is { } p ? new JsonObject { ["key_id"] = p.KeyId, ["public_key"] = p.PublicKey, ["fingerprint"] = p.Fingerprint } : null,
    };

    private static string StateName(ContactState state) => state switch
    {
        ContactState.New => "new",
        ContactState.Pinned => "pinned",
        ContactState.Verified => "verified",
        _ => "changed",
    };

    private static JsonObject EntryJson(HistoryEntry e) => new()
    {
        ["id"] = e.Id,
        ["direction"] = e.Direction,
        ["peer"] = e.Peer,
        ["text"] = e.Text,
        ["sent_at"] = e.SentAt,
        ["status"] = e.Status,
        ["problem"] = e.Problem,
        ["sender_key_id"] = e.SenderKeyId,
        ["recipient_key_id"] = e.RecipientKeyId,
    };

    private static string EntryText(HistoryEntry e)
    {
        var arrow = e.Direction == MessageDirections.Out ? $"you → {e.Peer}" : $"{e.Peer} → you";
        return e.Status switch
        {
            MessageStatus.Rejected => $"[{Time(e.SentAt)}] {arrow}: REJECTED: {e.Problem}",
            MessageStatus.UnverifiedKey => $"[{Time(e.SentAt)}] {arrow} (UNVERIFIED: {e.Problem}): {e.Text}",
            _ => $"[{Time(e.SentAt)}] {arrow}: {e.Text}",
        };
    }
}
