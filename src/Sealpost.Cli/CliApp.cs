using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Sealpost.Client;
using Sealpost.Client.Contacts;
using Sealpost.Client.Messaging;
using Sealpost.Client.Storage;
using Sealpost.Protocol;

namespace Sealpost.Cli;

/// <summary>The <c>sealpost</c> command line: the command tree, and turning every failure into one line and an exit code.</summary>
public sealed partial class CliApp
{
    public const string DefaultServer = "http://127.0.0.1:8080";

    private readonly CliConsole _console;
    private readonly Option<string?> _server = new("--server") { Description = "Server base URL (else $SEALPOST_SERVER, the profile's server, config.json, " + DefaultServer + ")", Recursive = true };
    private readonly Option<string?> _serverCertificate = new("--server-certificate")
    {
        Description = "Trust only this PEM certificate for the server's https (else $SEALPOST_SERVER_CERTIFICATE, config.json); scripts/up prints its own",
        Recursive = true,
    };
    private readonly Option<string?> _profile = new("--profile") { Description = "Local profile (else $SEALPOST_PROFILE, else 'default'); one account per profile", Recursive = true };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON for scripts instead of text for people", Recursive = true };

    public CliApp(CliConsole console) => _console = console;

    /// <summary>Knobs tests turn: shorter reconnect waits and the like.</summary>
    public ConnectionOptions? ConnectionOptions { get; init; }

    /// <summary>What HTTP goes through, for tests that play a server which tampers with what it serves; null: the real one.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>Runs one command line and returns its exit code.</summary>
    public async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        var root = Build();
        var json = WantsJson(args);
        // `sealpost help [command]` is `sealpost [command] --help`; `sealpost` alone shows the help too.
        if (args.Length == 0) args = ["--help"];
        else if (args[0] == "help") args = [.. args[1..], "--help"];
        var parsed = root.Parse(args);
        if (UsageProblem(parsed) is { } problem)
        {
            var command = parsed.CommandResult.Command;
            var name = command == root ? "sealpost" : "sealpost " + string.Join(' ', CommandPath(parsed.CommandResult));
            return await FailAsync(json, ExitCodes.Usage, "usage", null, $"{problem} Run '{name} --help' for usage.").ConfigureAwait(false);
        }
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
            if (code == ExitCodes.Auth && await GoneAccountAsync(parsed, ct).ConfigureAwait(false) is { } gone) message = gone;
            return await FailAsync(json, code, ExitCodes.Name(code), Hints.ServerCodeOf(e), message).ConfigureAwait(false);
        }
    }

    private static bool IsListen(ParseResult parsed) => parsed.CommandResult.Command.Name == "listen";

    /// <summary>One line on stderr for people; with --json also one object on stdout for scripts. Both escaped or encoded.</summary>
    private async Task<int> FailAsync(bool json, int code, string kind, string? serverCode, string message)
    {
        if (json)
        {
            var error = new JsonObject { ["code"] = kind, ["exit_code"] = code, ["message"] = message };
            if (serverCode is not null) error["server_code"] = serverCode;
            await _console.Out.WriteLineAsync(new JsonObject { ["error"] = error }.ToJsonString()).ConfigureAwait(false);
        }
        await _console.Error.WriteLineAsync("sealpost: " + TerminalText.Escape(message)).ConfigureAwait(false);
        return code;
    }

    /// <summary>--json before any "--": known even when the rest of the line does not parse.</summary>
    private static bool WantsJson(string[] args) => args.TakeWhile(a => a != "--").Contains("--json");

    private static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult? result)
    {
        var names = new Stack<string>();
        for (var r = result; r?.Parent is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult) names.Push(r.Command.Name);
        return names;
    }

    /// <summary>
    /// What is wrong with the command line, in one sentence. An unknown option is an error even where the command takes
    /// free text (System.CommandLine would make "--bogus" the message); "--" ends the options for a text that starts with "-".
    /// </summary>
    private static string? UsageProblem(ParseResult parsed)
    {
        var command = parsed.CommandResult.Command;
        var optionsEnd = parsed.Tokens.ToList().FindIndex(t => t.Type == System.CommandLine.Parsing.TokenType.DoubleDash);
        var beforeDoubleDash = optionsEnd < 0 ? parsed.Tokens : parsed.Tokens.Take(optionsEnd).ToList();
        // Only the command's own arguments: an option's value ("--display-name -x-") may start with a dash.
        foreach (var token in parsed.CommandResult.Tokens)
        {
            if (token.Value.Length > 1 && token.Value[0] == '-' && beforeDoubleDash.Any(t => ReferenceEquals(t, token))
                && !double.TryParse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                return $"Unknown option {Quote(token.Value)}; a text that starts with '-' goes after '--'.";
        }
        if (parsed.UnmatchedTokens.Count > 0)
        {
            var first = parsed.UnmatchedTokens[0];
            if (first.StartsWith('-')) return $"Unknown option {Quote(first)}.";
            return command.Subcommands.Count > 0 && !command.Arguments.Any() ? $"Unknown command {Quote(first)}." : $"Unexpected argument {Quote(first)}.";
        }
        if (parsed.Errors.Count == 0) return null;
        // A command group without its subcommand ('sealpost envelope'): say which there are.
        if (command.Subcommands.Count > 0 && !parsed.CommandResult.Children.Any() && !command.Arguments.Any())
            return $"'{command.Name}' needs a command: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}.";
        return parsed.Errors[0].Message;
    }

    private static string Quote(string token) => "'" + TerminalText.Escape(token) + "'";

    /// <summary>
    /// After an authentication failure: if the server no longer has this profile's account, say so rather than
    /// "not logged in". Null when the account exists, the server cannot say, or the profile has no account.
    /// </summary>
    private async Task<string?> GoneAccountAsync(ParseResult r, CancellationToken ct)
    {
        try
        {
            var profile = ProfileOf(r);
            if (profile.ReadAccount() is not { } account) return null;
            if (account.DeletedAt is not null) return Hints.AccountDeleted(account, profile.Name);
            await using var client = new SealpostClient(new SealpostClientOptions { Server = ServerOf(r, profile), CertificateFile = CertificateOf(r, profile), Profile = profile });
            using var quick = CancellationTokenSource.CreateLinkedTokenSource(ct);
            quick.CancelAfter(TimeSpan.FromSeconds(5));
            return await client.Accounts.ExistsAsync(account.Username, quick.Token).ConfigureAwait(false) == false
                ? $"The account {account.Username} no longer exists on {account.Server}: it was deleted. This profile keeps its keys and history; register anew with another --profile."
                : null;
        }
        catch (Exception e) when (e is SealpostException or CliException or OperationCanceledException)
        {
            return null;
        }
    }

    private RootCommand Build()
    {
        var root = new RootCommand("Sealpost: end-to-end encrypted messages. Keys live here; the servers only see ciphertext.");
        root.Options.Add(_server);
        root.Options.Add(_serverCertificate);
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
        root.Subcommands.Add(PasswdCommand());
        root.Subcommands.Add(DeleteAccountCommand());
        root.Subcommands.Add(LinkCommand());
        root.Subcommands.Add(DevicesCommand());
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
            throw new CliException(ErrorKind.Invalid, $"The server address \"{text}\" is not an http:// or https:// URL.");
        return uri;
    }

    /// <summary>--server-certificate, else $SEALPOST_SERVER_CERTIFICATE, else config.json; null: the system's authorities.</summary>
    private string? CertificateOf(ParseResult r, ProfileFolder profile)
    {
        var path = r.GetValue(_serverCertificate);
        if (string.IsNullOrEmpty(path)) path = Env("SEALPOST_SERVER_CERTIFICATE");
        if (string.IsNullOrEmpty(path)) path = profile.ReadConfig()?.ServerCertificate;
        return string.IsNullOrEmpty(path) ? null : path;
    }

    private SealpostClient ClientOf(ParseResult r, Func<string>? passphrase = null)
    {
        var profile = ProfileOf(r);
        var client = new SealpostClient(new SealpostClientOptions
        {
            Server = ServerOf(r, profile),
            CertificateFile = CertificateOf(r, profile),
            Profile = profile,
            Passphrase = passphrase ?? (() => Secret("SEALPOST_PASSPHRASE", "Passphrase for your private key: ")),
            Connection = ConnectionOptions,
            HttpHandler = HttpHandler,
        });
        client.Messages.Reconnecting += lost => Notice(Notices.Reconnecting(lost));
        client.Messages.Reconnected += () => Notice(Notices.Reconnected);
        client.Messages.Warning += warning => Notice(Notices.Warning(warning));
        return client;

        void Notice(string message) => _console.Error.WriteLine("sealpost: " + TerminalText.Escape(message));
    }

    /// <summary>Shortest passphrase accepted for a new key file: it is all that stands between a copied key file and an offline guesser.</summary>
    public const int MinPassphraseLength = 10;

    /// <summary>
    /// From the environment variable if set, else asked on the terminal without echo; with neither, a usage error.
    /// A new secret (<paramref name="rule"/> given) is checked here, before anything is sent, and asked again, as is a
    /// confirmation that differs, up to three times.
    /// </summary>
    private string Secret(string variable, string prompt, Func<string, string?>? rule = null, bool confirm = false)
    {
        if (Env(variable) is { Length: > 0 } value)
        {
            if (rule?.Invoke(value) is { } wrong) throw new CliException(ErrorKind.Invalid, $"{variable}: {wrong}");
            return value;
        }
        for (var attempt = 1; ; attempt++)
        {
            var first = _console.ReadSecret(prompt)
                ?? throw new CliException(ErrorKind.Invalid, $"There is no terminal to ask on: set {variable}.");
            var problem = first.Length == 0 ? "Nothing was typed." : rule?.Invoke(first);
            if (problem is null && confirm && _console.ReadSecret("Again, to be sure: ") != first) problem = "The two entries differ.";
            if (problem is null) return first;
            if (attempt == 3) throw new CliException(ErrorKind.Invalid, problem);
            _console.Error.WriteLine(problem + " Try again.");
        }
    }

    /// <summary>The passphrase for a new key file (register, link): typed twice, checked before anything is sent.</summary>
    private string NewPassphrase() => Secret("SEALPOST_PASSPHRASE", "New passphrase for your private key: ", PassphraseRule, confirm: true);

    /// <summary>
    /// A device name given on the command line, checked here by the server's rule (1 to 64 characters, no control or
    /// text-direction characters) so that a mistake is said before any prompt; null stays null.
    /// </summary>
    private static string? CheckDeviceName(string? name, string option)
    {
        if (name is null) return null;
        if (name.Length is 0 or > Limits.DeviceNameMaxLength || string.IsNullOrWhiteSpace(name) || name.EnumerateRunes().Any(TerminalText.IsUnsafe))
            throw new CliException(ErrorKind.Invalid, $"{option}: a device name is 1 to {Limits.DeviceNameMaxLength} characters, without control or text-direction characters.");
        return name;
    }

    private static string? PasswordRule(string password) =>
        password.EnumerateRunes().Count() is >= Limits.PasswordMinLength and <= Limits.PasswordMaxLength
            ? null
            : $"The password must be {Limits.PasswordMinLength} to {Limits.PasswordMaxLength} characters long.";

    private static string? PassphraseRule(string passphrase) =>
        passphrase.EnumerateRunes().Count() >= MinPassphraseLength
            ? null
            : $"The passphrase must be at least {MinPassphraseLength} characters long: it alone protects your private key if the key file is copied.";

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
        ["identity_key"] = s.IdentityKey,
        ["pending_identity_key"] = s.PendingIdentityKey,
        ["identity_missing"] = s.IdentityMissing,
    };

    private static string StateName(ContactState state) => state switch
    {
        ContactState.New => "new",
        ContactState.Pinned => "pinned",
        ContactState.Verified => "verified",
        _ => "changed",
    };

    private static JsonObject EntryJson(Message e, string? savedAs = null) => new()
    {
        ["id"] = e.Id,
        ["direction"] = e.Direction == MessageDirection.Out ? "out" : "in",
        ["peer"] = e.Peer,
        ["text"] = e.Text,
        ["file"] = e.FileName is null ? null : new JsonObject { ["name"] = e.FileName, ["size"] = e.FileSize, ["saved_as"] = savedAs },
        ["sent_at"] = e.SentAt,
        ["status"] = StatusName(e.Status),
        ["problem"] = e.Problem,
        ["sender_key_id"] = e.SenderKeyId,
        ["recipient_key_id"] = e.RecipientKeyId,
        ["from_device"] = e.FromDevice,
    };

    /// <summary>A message's status as the JSON output has always named it (the names of history.json).</summary>
    private static string StatusName(MessageStatus status) => status switch
    {
        MessageStatus.UnverifiedKey => "unverified_key",
        MessageStatus.Rejected => "rejected",
        MessageStatus.Sent => "sent",
        _ => "ok",
    };

    /// <summary>One message for people; everything that came from others is escaped (<see cref="TerminalText"/>).</summary>
    private static string EntryText(Message e, string? savedAs = null)
    {
        var peer = TerminalText.Escape(e.Peer);
        var arrow = e.Direction == MessageDirection.Out ? $"you{DeviceText(e, copy: true)} → {peer}" : $"{peer}{DeviceText(e, copy: false)} → you";
        var body = e.FileName is null ? TerminalText.EscapeLines(e.Text) : FileText(e, savedAs);
        return e.Status switch
        {
            MessageStatus.Rejected => $"[{Time(e.SentAt)}] {arrow}: REJECTED: {TerminalText.Escape(e.Problem)}",
            MessageStatus.UnverifiedKey => $"[{Time(e.SentAt)}] {arrow} (UNVERIFIED: {TerminalText.Escape(e.Problem)}): {body}",
            _ when e.Problem is not null => $"[{Time(e.SentAt)}] {arrow} (NOTE: {TerminalText.Escape(e.Problem)}): {body}",
            _ => $"[{Time(e.SentAt)}] {arrow}: {body}",
        };
    }

    /// <summary>
    /// The sending device, when it says something: a sender's device other than their first, and always the device of a
    /// sent copy (an outgoing entry with a device is one my other device sent).
    /// </summary>
    private static string DeviceText(Message e, bool copy) =>
        e.FromDevice is { } device && (copy || device != 1) ? $" (device {device})" : "";

    private static string FileText(Message e, string? savedAs)
    {
        var head = $"file \"{TerminalText.Escape(e.FileName)}\", {e.FileSize?.ToString("N0", CultureInfo.InvariantCulture)} bytes";
        if (e.Direction == MessageDirection.Out) return $"[{head}]";
        return savedAs is null ? $"[{head}; not saved: use --save-to DIR]" : $"[{head}, saved as {TerminalText.Escape(savedAs)}]";
    }
}
