using System.CommandLine;
using System.Text.Json.Nodes;
using Sealpost.Client;
using Sealpost.Client.Contacts;
using Sealpost.Crypto;

namespace Sealpost.Cli;

/// <summary>The account, contact and messaging commands.</summary>
public sealed partial class CliApp
{
    private static Argument<string> UserArgument(string description) => new("username") { Description = description };

    private Command RegisterCommand()
    {
        var user = UserArgument("The name to register: 3 to 32 of a-z, 0-9, _");
        var displayName = new Option<string?>("--display-name") { Description = "A name for people to see" };
        var command = new Command("register", "Create a key pair here, register the account with its public key, and log in") { user, displayName };
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r, () => Secret("SEALPOST_PASSPHRASE", "New passphrase for your private key: ", confirm: true));
            var password = Secret("SEALPOST_PASSWORD", "New account password: ", confirm: true);
            var own = await client.RegisterAsync(r.GetValue(user)!, password, r.GetValue(displayName), ct);
            Print(r, new JsonObject
            {
                ["username"] = own.Username,
                ["key_id"] = own.KeyId,
                ["fingerprint"] = own.Fingerprint,
                ["key_file"] = client.Profile.KeyFile((uint)own.KeyId),
            }, $"Registered {own.Username} and logged in.\nYour key id {own.KeyId}, fingerprint {own.Fingerprint}.\n" +
               $"Your private key is in {client.Profile.KeyFile((uint)own.KeyId)}, sealed under your passphrase: without both, your messages cannot be read.");
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
            var me = await client.LoginAsync(r.GetValue(user)!, password, ct);
            var hasKey = client.Keys.Has((uint)me.KeyId);
            Print(r, new JsonObject { ["username"] = me.Username, ["key_id"] = me.KeyId, ["has_private_key"] = hasKey },
                $"Logged in as {me.Username}." + (hasKey ? "" : $"\nWarning: this profile holds no private key for your key id {me.KeyId}, so messages cannot be sent or read here. " +
                              $"Copy the keys folder of the device that registered into {client.Profile.KeysFolder}."));
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
            var me = await client.WhoAmIAsync(ct);
            var local = client.Account!;
            var matches = client.Keys.Has((uint)me.KeyId) && Fingerprint.Of(client.Keys.PublicKeyOf((uint)me.KeyId)) == me.Fingerprint;
            Print(r, new JsonObject
            {
                ["username"] = me.Username,
                ["display_name"] = me.DisplayName,
                ["key_id"] = me.KeyId,
                ["fingerprint"] = me.Fingerprint,
                ["server"] = local.Server,
                ["profile"] = client.Profile.Name,
                ["local_key_matches"] = matches,
            }, $"{me.Username}{(me.DisplayName is null ? "" : $" ({me.DisplayName})")} on {local.Server}, profile {client.Profile.Name}\n" +
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
            var status = await client.LookupAsync(r.GetValue(user)!, ct);
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
            var info = await client.SafetyNumberAsync(r.GetValue(user)!, ct);
            var json = StatusJson(info.Contact);
            json["own_fingerprint"] = info.OwnFingerprint;
            json["safety_number"] = info.SafetyNumber;
            json["pending_safety_number"] = info.PendingSafetyNumber;
            var text = $"{info.Contact.Username}: key id {info.Contact.TrustedKeyId}, fingerprint {info.Contact.TrustedFingerprint}\n" +
                       $"you: fingerprint {info.OwnFingerprint}\nsafety number:\n  {Groups(info.SafetyNumber)}";
            if (info.Contact.Pending is { } p)
                text += $"\nTHEIR KEY CHANGED to key id {p.KeyId}, fingerprint {p.Fingerprint}; the safety number with it would be:\n  {Groups(info.PendingSafetyNumber!)}\n" +
                        $"If they confirm it, run 'sealpost trust {info.Contact.Username}'.";
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
            var status = await client.TrustAsync(r.GetValue(user)!, ct);
            Print(r, StatusJson(status), $"Trusted {status.Username}'s key id {status.TrustedKeyId}, fingerprint {status.TrustedFingerprint}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command SendCommand()
    {
        var user = UserArgument("The recipient");
        var text = new Argument<string?>("text") { Description = "The message; read from standard input when absent", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("send", "Encrypt a message to a contact's pinned key and send it") { user, text };
        command.SetAction(async (r, ct) =>
        {
            var message = r.GetValue(text);
            if (message is null)
            {
                message = await _console.In.ReadToEndAsync(ct);
                // The newline a shell or editor adds is not part of the message.
                if (message.EndsWith('\n')) message = message[..^1];
                if (message.EndsWith('\r')) message = message[..^1];
            }
            if (message.Length == 0) throw new SealpostException(ErrorKind.Invalid, "The message is empty.");
            await using var client = ClientOf(r);
            var sent = await client.SendAsync(r.GetValue(user)!, message, ct);
            Print(r, new JsonObject { ["message_id"] = sent.MessageId, ["client_id"] = sent.ClientId, ["to"] = sent.To, ["sent_at"] = sent.SentAt },
                $"Sent to {sent.To} at {Time(sent.SentAt)} (message id {sent.MessageId}).");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command ListenCommand()
    {
        var command = new Command("listen", "Receive messages as they arrive until Ctrl-C; each is stored, then acknowledged");
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            client.Keys.CheckPassphrase();
            if (!Json(r)) await _console.Error.WriteLineAsync("Listening; Ctrl-C to stop.");
            await foreach (var entry in client.ReceiveAsync(ct))
            {
                Print(r, EntryJson(entry), EntryText(entry));
                await _console.Out.FlushAsync(ct);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command InboxCommand()
    {
        var wait = new Option<double>("--wait") { Description = "Seconds without a new message after which the mailbox counts as empty, if the server does not say so itself", DefaultValueFactory = _ => 10 };
        var command = new Command("inbox", "Fetch the messages waiting for you, print them, acknowledge them, and exit") { wait };
        command.SetAction(async (r, ct) =>
        {
            var seconds = r.GetValue(wait);
            if (seconds is <= 0 or > 3600) throw new SealpostException(ErrorKind.Invalid, "--wait is between 0 and 3600 seconds.");
            await using var client = ClientOf(r);
            client.Keys.CheckPassphrase();
            var entries = await client.FetchInboxAsync(TimeSpan.FromSeconds(seconds), ct);
            if (Json(r)) _console.Out.WriteLine(new JsonArray([.. entries.Select(EntryJson)]).ToJsonString());
            else if (entries.Count == 0) _console.Out.WriteLine("No new messages.");
            else foreach (var entry in entries) _console.Out.WriteLine(EntryText(entry));
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command HistoryCommand()
    {
        var user = new Argument<string?>("username") { Description = "Only the conversation with this contact", Arity = ArgumentArity.ZeroOrOne };
        var last = new Option<int?>("--last") { Description = "Only the last N messages" };
        var command = new Command("history", "Show the messages kept on this device") { user, last };
        command.SetAction(r =>
        {
            var profile = ProfileOf(r);
            var peer = r.GetValue(user) is { } u ? ContactBook.Normalize(u) : null;
            var entries = new Sealpost.Client.History.MessageHistory(profile).List(peer, r.GetValue(last));
            if (Json(r)) _console.Out.WriteLine(new JsonArray([.. entries.Select(EntryJson)]).ToJsonString());
            else if (entries.Count == 0) _console.Out.WriteLine("No messages.");
            else foreach (var entry in entries) _console.Out.WriteLine(EntryText(entry));
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
            var own = await client.RotateKeyAsync(password, ct);
            Print(r, new JsonObject { ["key_id"] = own.KeyId, ["fingerprint"] = own.Fingerprint },
                $"Your key is now key id {own.KeyId}, fingerprint {own.Fingerprint}.\nYour contacts will be asked to trust it; older keys stay in {client.Profile.KeysFolder}.");
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
            await client.LogoutAsync(ct);
            Print(r, new JsonObject { ["logged_out"] = true }, "Logged out.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Describe(ContactStatus s)
    {
        var head = $"{s.Username}{(s.DisplayName is null ? "" : $" ({s.DisplayName})")}";
        return s.State switch
        {
            ContactState.New => $"{head}\nkey id {s.TrustedKeyId}, fingerprint {s.TrustedFingerprint}\nPinned now (first use). Compare the fingerprint with them, then 'sealpost trust {s.Username}'.",
            ContactState.Pinned => $"{head}\nkey id {s.TrustedKeyId}, fingerprint {s.TrustedFingerprint}\nMatches the key pinned here.",
            ContactState.Verified => $"{head}\nkey id {s.TrustedKeyId}, fingerprint {s.TrustedFingerprint}\nMatches the key you verified.",
            _ => $"{head}\nKEY CHANGED: pinned key id {s.TrustedKeyId}, fingerprint {s.TrustedFingerprint}\n" +
                 $"             server now has key id {s.Pending!.KeyId}, fingerprint {s.Pending.Fingerprint}\n" +
                 $"Sending is refused until you check the new fingerprint with them and run 'sealpost trust {s.Username}'.",
        };
    }

    /// <summary>60 digits as two lines of six groups, the way people read them aloud.</summary>
    private static string Groups(string safetyNumber)
    {
        var groups = safetyNumber.Split(' ');
        return groups.Length == 12 ? string.Join(' ', groups[..6]) + "\n  " + string.Join(' ', groups[6..]) : safetyNumber;
    }
}
