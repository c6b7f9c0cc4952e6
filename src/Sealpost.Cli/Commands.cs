using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using Sealpost.Client;
using Sealpost.Client.Contacts;
using Sealpost.Client.Messaging;

namespace Sealpost.Cli;

/// <summary>The account, contact and messaging commands.</summary>
public sealed partial class CliApp
{
    private static Argument<string> UserArgument(string description) => new("username") { Description = description };

    private Command RegisterCommand()
    {
        var user = UserArgument("The name to register: 3 to 32 of a-z, 0-9, _");
        var displayName = new Option<string?>("--display-name") { Description = "A name for people to see" };
        var deviceName = new Option<string?>("--device-name") { Description = "This device's name, seen only by your own devices (default 'device 1')" };
        var command = new Command("register", "Create a key pair here, register the account with its public key, and log in") { user, displayName, deviceName };
        command.SetAction(async (r, ct) =>
        {
            var name = ContactClient.Normalize(r.GetValue(user)!);
            var device = CheckDeviceName(r.GetValue(deviceName), "--device-name");
            string? passphrase = null;
            await using var client = ClientOf(r, () => passphrase!);
            var profile = client.Options.Profile;
            if (client.Accounts.Current is { } existing)
                throw new CliException(ErrorKind.Invalid, $"Profile '{profile.Name}' already holds the account {existing.Username}; use another --profile.");
            // Said before four prompts rather than after them.
            if (await client.Accounts.ExistsAsync(name, ct) == true)
                throw new CliException(ErrorKind.Refused, $"The username {name} is taken.") { ServerCode = "username-taken" };
            var password = Secret("SEALPOST_PASSWORD", "New account password: ", PasswordRule, confirm: true);
            passphrase = NewPassphrase();
            var own = await client.Accounts.RegisterAsync(name, password, r.GetValue(displayName), device, ct);
            var fingerprint = client.Accounts.Fingerprint;
            Print(r, new JsonObject
            {
                ["username"] = own.Username,
                ["key_id"] = own.KeyId,
                ["fingerprint"] = own.Fingerprint,
                ["identity_fingerprint"] = fingerprint,
                ["key_file"] = profile.KeyFile(own.KeyId),
            }, $"Registered {own.Username} and logged in.\nYour fingerprint, the one your contacts compare: {fingerprint} " +
               $"(this device's key id {own.KeyId}: {own.Fingerprint}).\n" +
               $"Your private key is in {profile.KeyFile(own.KeyId)}, sealed under your passphrase: without both, your messages cannot be read.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command PasswdCommand()
    {
        var command = new Command("passwd", "Change your account password; every other session of the account ends");
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            var current = Secret("SEALPOST_PASSWORD", "Current password: ");
            var password = Secret("SEALPOST_NEW_PASSWORD", "New password: ", PasswordRule, confirm: true);
            await client.Accounts.ChangePasswordAsync(current, password, ct);
            Print(r, new JsonObject { ["password_changed"] = true },
                "Password changed. Every other session of your account has ended; this profile is logged in again.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command DeleteAccountCommand()
    {
        var yes = new Option<bool>("--yes") { Description = "Do not ask to type the username to confirm (for scripts); the password is still needed" };
        var command = new Command("delete-account", "Delete your account on the server for good; the name stays taken. Keys and history here stay") { yes };
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            var account = client.Accounts.Current
                ?? throw new CliException(ErrorKind.Auth, $"Profile '{client.Options.Profile.Name}' has no account to delete.");
            if (!r.GetValue(yes))
            {
                _console.Error.WriteLine($"This deletes the account {account.Username} on {account.Server}. It cannot be undone, and the name can never be registered again.");
                var typed = _console.ReadLine($"Type {account.Username} to confirm: ")
                    ?? throw new CliException(ErrorKind.Invalid, "There is no terminal to confirm on: pass --yes.");
                if (typed.Trim() != account.Username) throw new CliException(ErrorKind.Invalid, "Not confirmed; nothing was deleted.");
            }
            var password = Secret("SEALPOST_PASSWORD", "Password: ");
            await client.Accounts.DeleteAsync(password, ct);
            Print(r, new JsonObject { ["deleted"] = account.Username },
                $"Deleted the account {account.Username}. Your keys and history stay in {client.Options.Profile.Root} until you remove them.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command LoginCommand()
    {
        var user = UserArgument("Your username");
        var command = new Command("login", "Log in and keep the session in this profile") { user };
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            var password = Secret("SEALPOST_PASSWORD", "Password: ");
            var me = await client.Accounts.LoginAsync(r.GetValue(user)!, password, ct);
            var hasKey = client.Accounts.HoldsKey(me.KeyId);
            Print(r, new JsonObject { ["username"] = me.Username, ["key_id"] = me.KeyId, ["has_private_key"] = hasKey },
                $"Logged in as {me.Username}." + (hasKey ? "" : $"\nWarning: this profile holds no private key for your key id {me.KeyId}, so messages cannot be sent or read here. " +
                              $"Copy the keys folder of the device that registered into {client.Options.Profile.KeysFolder}."));
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command WhoAmICommand()
    {
        var command = new Command("whoami", "Show your account as the server has it, and check it matches your key here");
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            var me = await client.Accounts.WhoAmIAsync(ct);
            var local = client.Accounts.Current!;
            var matches = client.Accounts.HoldsKeyOf(me);
            Print(r, new JsonObject
            {
                ["username"] = me.Username,
                ["display_name"] = me.DisplayName,
                ["key_id"] = me.KeyId,
                ["fingerprint"] = me.Fingerprint,
                ["server"] = local.Server,
                ["profile"] = client.Options.Profile.Name,
                ["local_key_matches"] = matches,
            }, $"{me.Username}{(me.DisplayName is null ? "" : $" ({TerminalText.Escape(me.DisplayName)})")} on {local.Server}, profile {client.Options.Profile.Name}\n" +
               $"key id {me.KeyId}, fingerprint {me.Fingerprint}" +
               (matches ? "" : "\nWarning: the server's key for you is not the private key held here."));
            return matches ? ExitCodes.Ok : ExitCodes.KeyChanged;
        });
        return command;
    }

    private Command LookupCommand()
    {
        var user = UserArgument("The account to look up");
        var command = new Command("lookup", "Fetch a contact's public key and compare it with the one pinned here (pinning it the first time)") { user };
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            var status = await client.Contacts.LookupAsync(r.GetValue(user)!, ct);
            Print(r, StatusJson(status), Describe(status));
            return status.State == ContactState.Changed ? ExitCodes.KeyChanged : ExitCodes.Ok;
        });
        return command;
    }

    private Command FingerprintCommand()
    {
        var user = UserArgument("The contact");
        var command = new Command("fingerprint", "Show a contact's fingerprint and your safety number with them, to compare out of band") { user };
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            var info = await client.Contacts.SafetyNumberAsync(r.GetValue(user)!, ct);
            var json = StatusJson(info.Contact);
            json["own_fingerprint"] = info.OwnFingerprint;
            json["safety_number"] = info.SafetyNumber;
            json["pending_safety_number"] = info.PendingSafetyNumber;
            var text = $"{info.Contact.Username}: key id {info.Contact.TrustedKeyId}, fingerprint {info.Contact.TrustedFingerprint}\n" +
                       $"you: fingerprint {info.OwnFingerprint}\nsafety number:\n  {Groups(info.SafetyNumber)}";
            if (info.Contact.IdentityMissing)
                text += $"\nTHE SERVER SHOWS NO IDENTITY KEY for {info.Contact.Username} any more: nothing is sent to them until it does again.";
            else if (info.PendingSafetyNumber is { } next)
                text += $"\nTHEIR KEY CHANGED ({ChangeOf(info.Contact)}); the safety number with it would be:\n  {Groups(next)}\n" +
                        $"If they confirm it, run 'sealpost trust {info.Contact.Username}'.";
            else if (info.Contact.State == ContactState.Changed)
                text += $"\nTHEIR KEY CHANGED ({ChangeOf(info.Contact)}): compare with them, then run 'sealpost trust {info.Contact.Username}'.";
            else text += "\nCompare it with theirs in person or on a call; if it matches, run 'sealpost trust " + info.Contact.Username + "' to mark them verified.";
            Print(r, json, text);
            return info.Contact.State == ContactState.Changed ? ExitCodes.KeyChanged : ExitCodes.Ok;
        });
        return command;
    }

    private Command TrustCommand()
    {
        var user = UserArgument("The contact whose current key you accept");
        var command = new Command("trust", "Accept a contact's current key (after comparing fingerprints) and mark it verified") { user };
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            var status = await client.Contacts.TrustAsync(r.GetValue(user)!, ct);
            Print(r, StatusJson(status), $"Trusted {status.Username}'s key id {status.TrustedKeyId}, fingerprint {status.TrustedFingerprint}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command SendCommand()
    {
        var user = UserArgument("The recipient");
        var text = new Argument<string?>("text") { Description = "The message; read from standard input when absent. Put it after -- if it starts with -", Arity = ArgumentArity.ZeroOrOne };
        var file = new Option<string?>("--file") { Description = $"Send this file (its name and bytes, at most about {MessageClient.MaxFileSize(20) / 1000} kB) instead of a text" };
        var command = new Command("send", "Encrypt a message or a small file to a contact's pinned key and send it") { user, text, file };
        command.SetAction(async (r, ct) =>
        {
            var to = r.GetValue(user)!;
            if (r.GetValue(file) is { } path)
            {
                if (r.GetValue(text) is not null) throw new CliException(ErrorKind.Invalid, "Give a text or --file, not both.");
                var (name, data) = ReadFile(path);
                await using var fileClient = ClientOf(r);
                return PrintSent(r, await fileClient.Messages.SendFileAsync(to, name, data, ct));
            }
            var message = r.GetValue(text) ?? await ReadStandardInputTextAsync(ct);
            if (message.Length == 0) throw new CliException(ErrorKind.Invalid, "The message is empty.");
            await using var client = ClientOf(r);
            return PrintSent(r, await client.Messages.SendAsync(to, message, ct));
        });
        return command;
    }

    private int PrintSent(ParseResult r, SentMessage sent)
    {
        Print(r, new JsonObject { ["message_id"] = sent.MessageId, ["client_id"] = sent.ClientId, ["to"] = sent.To, ["sent_at"] = sent.SentAt },
            $"Sent to {sent.To} at {Time(sent.SentAt)} (message id {sent.MessageId}).");
        return ExitCodes.Ok;
    }

    private static (string Name, byte[] Data) ReadFile(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new CliException(ErrorKind.Invalid, $"--file: there is no file '{path}'.");
            var name = ReceivedFiles.SafeName(info.Name);
            var limit = MessageClient.MaxFileSize(Encoding.UTF8.GetByteCount(name));
            if (info.Length > limit)
                throw new CliException(ErrorKind.Invalid, $"--file: '{path}' is {info.Length:N0} bytes; a message carries a file of at most {limit:N0} bytes.");
            return (name, File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ErrorKind.Invalid, $"--file: cannot read '{path}': {e.Message}", e);
        }
    }

    /// <summary>Standard input as the message: it must be UTF-8 text (bytes that are not are refused, not mangled).</summary>
    private async Task<string> ReadStandardInputTextAsync(CancellationToken ct)
    {
        if (_console.InputIsTerminal) await _console.Error.WriteLineAsync("Type the message; end it with Ctrl-D on a line of its own.");
        var message = await ReadStandardInputAsync("to send a file, use --file PATH", ct);
        // The newline a shell or editor adds is not part of the message.
        if (message.EndsWith('\n')) message = message[..^1];
        if (message.EndsWith('\r')) message = message[..^1];
        return message;
    }

    /// <summary>All of standard input as strict UTF-8; bytes that are not UTF-8 are an input error saying <paramref name="instead"/>.</summary>
    private async Task<string> ReadStandardInputAsync(string instead, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await _console.In.CopyToAsync(buffer, ct);
        try
        {
            return StrictUtf8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (DecoderFallbackException e)
        {
            throw new CliException(ErrorKind.Invalid, $"Standard input is not UTF-8 text (at byte {e.Index}): {instead}.", e);
        }
    }

    private static Option<string?> SaveToOption() =>
        new("--save-to") { Description = "Save received files into this folder (never over an existing file); without it files are only kept in history" };

    private static string? SaveFolder(ParseResult r, Option<string?> option)
    {
        if (r.GetValue(option) is not { } folder) return null;
        return Directory.Exists(folder) ? folder : throw new CliException(ErrorKind.Invalid, $"--save-to: there is no folder '{folder}'.");
    }

    /// <summary>Saves a received file when a folder was given; the path it was saved as, else null.</summary>
    private static string? SaveFile(Message entry, string? folder) =>
        folder is not null && entry.Direction == MessageDirection.In && entry.FileData is { } data ? ReceivedFiles.Save(folder, entry.FileName, data) : null;

    /// <summary>A list of messages: a JSON array for scripts, else one entry per line, or <paramref name="none"/>.</summary>
    private void PrintEntries(ParseResult r, IReadOnlyList<Message> entries, string? folder, string none)
    {
        var shown = entries.Select(e => (Entry: e, SavedAs: SaveFile(e, folder))).ToList();
        if (Json(r)) _console.Out.WriteLine(new JsonArray([.. shown.Select(s => EntryJson(s.Entry, s.SavedAs))]).ToJsonString());
        else if (shown.Count == 0) _console.Out.WriteLine(none);
        else foreach (var (entry, savedAs) in shown) _console.Out.WriteLine(EntryText(entry, savedAs));
    }

    private Command ListenCommand()
    {
        var saveTo = SaveToOption();
        var command = new Command("listen", "Receive messages as they arrive until Ctrl-C; each is stored, then acknowledged") { saveTo };
        command.SetAction(async (r, ct) =>
        {
            var folder = SaveFolder(r, saveTo);
            await using var client = ClientOf(r);
            client.Accounts.CheckPassphrase();
            if (!Json(r)) await _console.Error.WriteLineAsync("Listening; Ctrl-C to stop.");
            await foreach (var entry in client.Messages.ReceiveAsync(ct))
            {
                var savedAs = SaveFile(entry, folder);
                Print(r, EntryJson(entry, savedAs), EntryText(entry, savedAs));
                await _console.Out.FlushAsync(ct);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command InboxCommand()
    {
        var wait = new Option<double>("--wait") { Description = "Seconds without a new message after which the mailbox counts as empty, if the server does not say so itself", DefaultValueFactory = _ => 10 };
        var saveTo = SaveToOption();
        var command = new Command("inbox", "Fetch the messages waiting for you, print them, acknowledge them, and exit") { wait, saveTo };
        command.SetAction(async (r, ct) =>
        {
            var seconds = r.GetValue(wait);
            if (seconds is <= 0 or > 3600) throw new CliException(ErrorKind.Invalid, "--wait is between 0 and 3600 seconds.");
            var folder = SaveFolder(r, saveTo);
            // The passphrase is asked for when the first message needs opening: not at all when nothing waits.
            await using var client = ClientOf(r);
            var entries = await client.Messages.FetchInboxAsync(TimeSpan.FromSeconds(seconds), ct);
            PrintEntries(r, entries, folder, "No new messages.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command HistoryCommand()
    {
        var user = new Argument<string?>("username") { Description = "Only the conversation with this contact", Arity = ArgumentArity.ZeroOrOne };
        var last = new Option<int?>("--last") { Description = "Only the last N messages" };
        var saveTo = SaveToOption();
        var command = new Command("history", "Show the messages kept on this device; --save-to saves the files among them") { user, last, saveTo };
        command.SetAction(r =>
        {
            var profile = ProfileOf(r);
            var peer = r.GetValue(user) is { } u ? ContactClient.Normalize(u) : null;
            if (r.GetValue(last) is < 1) throw new CliException(ErrorKind.Invalid, "--last is a number of messages, 1 or more.");
            var entries = new MessageHistory(profile).List(peer, r.GetValue(last));
            PrintEntries(r, entries, SaveFolder(r, saveTo), "No messages.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command RotateKeyCommand()
    {
        var command = new Command("rotate-key", "Make a new key pair and publish it (needs your account password); old private keys stay to open older messages");
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            var password = Secret("SEALPOST_PASSWORD", "Account password: ");
            var own = await client.Accounts.RotateKeyAsync(password, ct);
            Print(r, new JsonObject { ["key_id"] = own.KeyId, ["fingerprint"] = own.Fingerprint },
                $"Your key is now key id {own.KeyId}, fingerprint {own.Fingerprint}.\nYour contacts will be asked to trust it; older keys stay in {client.Options.Profile.KeysFolder}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command LogoutCommand()
    {
        var command = new Command("logout", "End the session on the server and forget its tokens here (keys, contacts and history stay)");
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            await client.Accounts.LogoutAsync(ct);
            Print(r, new JsonObject { ["logged_out"] = true }, "Logged out.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Describe(ContactStatus s)
    {
        var head = $"{s.Username}{(s.DisplayName is null ? "" : $" ({TerminalText.Escape(s.DisplayName)})")}";
        return s.State switch
        {
            ContactState.New => $"{head}\nkey id {s.TrustedKeyId}, fingerprint {s.TrustedFingerprint}\nPinned now (first use). Compare the fingerprint with them, then 'sealpost trust {s.Username}'.",
            ContactState.Pinned => $"{head}\nkey id {s.TrustedKeyId}, fingerprint {s.TrustedFingerprint}\nMatches the key pinned here.",
            ContactState.Verified => $"{head}\nkey id {s.TrustedKeyId}, fingerprint {s.TrustedFingerprint}\nMatches the key you verified.",
            _ when s.IdentityMissing => $"{head}\nIDENTITY KEY MISSING: pinned identity fingerprint {s.TrustedFingerprint}, and the server shows none now.\n" +
                 "Sending is refused until it does again (there is nothing to trust); if it lasts, the server may be trying to read your messages.",
            _ => $"{head}\nKEY CHANGED: pinned {(s.IdentityKey is null ? $"key id {s.TrustedKeyId}, " : "identity ")}fingerprint {s.TrustedFingerprint}\n" +
                 $"             server now has {ChangeOf(s)}\n" +
                 $"Sending is refused until you check the new fingerprint with them and run 'sealpost trust {s.Username}'.",
        };
    }

    /// <summary>What the server shows instead of what is pinned: another identity key, or another key.</summary>
    private static string ChangeOf(ContactStatus s) => s.PendingIdentityKey is not null
        ? $"{(s.IdentityKey is null ? "a first" : "another")} identity key, fingerprint {s.PendingIdentityFingerprint}"
        : s.Pending is { } p ? $"key id {p.KeyId}, fingerprint {p.Fingerprint}" : "a key it cannot show";

    /// <summary>60 digits as two lines of six groups, the way people read them aloud.</summary>
    private static string Groups(string safetyNumber)
    {
        var groups = safetyNumber.Split(' ');
        return groups.Length == 12 ? string.Join(' ', groups[..6]) + "\n  " + string.Join(' ', groups[6..]) : safetyNumber;
    }
}
