using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Sealpost.Client;
using Sealpost.Client.Devices;
using Sealpost.Protocol;

namespace Sealpost.Cli;

/// <summary>
/// <c>sealpost link</c> and <c>sealpost devices</c>: one account on several devices (docs/devices.md). The new device
/// shows a code, a signed-in device accepts it; the code, not the server, says which key is being linked.
/// </summary>
public sealed partial class CliApp
{
    private Command LinkCommand()
    {
        var user = new Argument<string?>("username") { Description = "The account to join (asked when left out): only a device of that account can accept the code", Arity = ArgumentArity.ZeroOrOne };
        var name = new Option<string?>("--name") { Description = "This device's name, seen only by your own devices (default: the host name)" };
        var command = new Command("link", "Make this new profile a device of your account, signed in elsewhere: shows a code to accept there, then waits") { user, name };
        command.Subcommands.Add(LinkAcceptCommand());
        command.SetAction(async (r, ct) =>
        {
            var deviceName = CheckDeviceName(r.GetValue(name), "--name") ?? HostDeviceName();
            string? passphrase = null;
            await using var client = ClientOf(r, () => passphrase!);
            if (client.Accounts.Current is { } existing)
                throw new CliException(ErrorKind.Invalid, $"Profile '{client.Options.Profile.Name}' already holds the account {existing.Username}; link into another --profile.");
            var username = AccountToJoin(r.GetValue(user));
            // Asked before the server hands out a code that lives ten minutes.
            passphrase = NewPassphrase();
            var request = await client.Devices.RequestLinkAsync(username, deviceName, ct);
            var code = request.Code.ToString();
            Print(r, new JsonObject
            {
                ["link_code"] = code,
                ["link_uri"] = request.Code.ToUri(),
                ["username"] = request.Username,
                ["device_name"] = request.DeviceName,
                ["fingerprint"] = request.Fingerprint,
                ["expires_at"] = request.ExpiresAt,
            }, $"Link code for this device ('{TerminalText.Escape(request.DeviceName)}') to join {request.Username}'s account:\n\n  {code}\n\n" +
               $"or as a URI (for a QR code): {request.Code.ToUri()}\n" +
               $"This device's key fingerprint: {request.Fingerprint}\n" +
               $"On a device already signed in as {request.Username}, run\n\n  sealpost link accept {code}\n\n" +
               $"and accept only if it shows this fingerprint. Only {request.Username} can accept it; it works once, until {Time(request.ExpiresAt)}.");
            await _console.Out.FlushAsync(ct);
            if (!Json(r)) await _console.Error.WriteLineAsync("Waiting for the other device to accept; Ctrl-C to stop.");
            var account = await ExplainedAsync(() => client.Devices.CompleteLinkAsync(request, ct));
            Print(r, new JsonObject { ["username"] = account.Username, ["device_id"] = account.DeviceId, ["device_name"] = request.DeviceName },
                $"Linked: this is device {account.DeviceId} of {account.Username}. It receives what is sent to you from now on; earlier messages stay on your other devices.");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The username <c>sealpost link</c> was given, or the one typed when asked; checked before anything is sent.</summary>
    private string AccountToJoin(string? given)
    {
        var typed = given ?? _console.ReadLine("Account to join (your username): ")
            ?? throw new CliException(ErrorKind.Invalid, "Name the account this device is to join: sealpost link USERNAME.");
        return AccountRules.NormalizeUsername(typed.Trim())
            ?? throw new CliException(ErrorKind.Invalid, $"'{TerminalText.Escape(typed)}' is not a username: 3 to 32 characters, letters a-z, digits and underscore.");
    }

    /// <summary>The machine's host name, as far as a device name may be long; "device" on a machine without one.</summary>
    private static string HostDeviceName()
    {
        var host = Environment.MachineName.Trim();
        if (host.Length > Limits.DeviceNameMaxLength) host = host[..Limits.DeviceNameMaxLength];
        return host.Length == 0 || host.EnumerateRunes().Any(TerminalText.IsUnsafe) ? "device" : host;
    }

    private Command LinkAcceptCommand()
    {
        var code = new Argument<string>("code") { Description = "The link code the new device shows (sealpost-link:2:… or sealpost://link?…); a mistyped one is refused before anything is linked" };
        var yes = new Option<bool>("--yes") { Description = "Do not ask (for scripts); compare the fingerprint with the new device's some other way" };
        var command = new Command("accept", "Accept a new device's link code: it becomes a device of your account, with your identity and pinned contacts") { code, yes };
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            var offer = await ExplainedAsync(() => client.Devices.InspectLinkAsync(r.GetValue(code)!, ct));
            var username = client.Accounts.Current!.Username;
            var name = TerminalText.Escape(offer.DeviceName);
            if (!r.GetValue(yes))
            {
                _console.Error.WriteLine("The new device shows its key's fingerprint: accept only if it is the same.");
                Confirm($"Link device '{name}' (fingerprint {offer.Fingerprint}) as device {offer.DeviceId} of {username}? [y/N] ", "nothing was linked");
            }
            await ExplainedAsync(() => client.Devices.ApproveLinkAsync(offer, ct));
            Print(r, new JsonObject
            {
                ["approved"] = true,
                ["username"] = username,
                ["device_id"] = offer.DeviceId,
                ["device_name"] = offer.DeviceName,
                ["fingerprint"] = offer.Fingerprint,
            }, $"Approved. '{name}' (fingerprint {offer.Fingerprint}) is now device {offer.DeviceId} of {username}; its 'sealpost link' finishes by itself. " +
               "It receives what is sent to you from now on, and copies of what you send.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command DevicesCommand()
    {
        var command = new Command("devices", "List the devices of your account (this one marked *); rename or remove one");
        command.Subcommands.Add(RenameDeviceCommand());
        command.Subcommands.Add(RemoveDeviceCommand());
        command.SetAction(async (r, ct) =>
        {
            await using var client = ClientOf(r);
            var list = await client.Devices.ListAsync(ct);
            var json = new JsonObject
            {
                ["username"] = list.Username,
                ["current_device_id"] = list.CurrentDeviceId,
                ["devices"] = new JsonArray([.. list.Devices.Select(device => (JsonNode)new JsonObject
                {
                    ["device_id"] = device.DeviceId,
                    ["name"] = device.Name,
                    ["key_id"] = device.KeyId,
                    ["fingerprint"] = KeyFingerprint(device),
                    ["created_at"] = device.CreatedAt,
                    ["current"] = device.Current,
                    ["certified"] = device.Certified,
                })]),
            };
            var text = new List<string> { $"Devices of {list.Username} (* this one):" };
            var width = list.Devices.Max(device => (int?)TerminalText.Escape(device.Name).Length) ?? 0;
            foreach (var device in list.Devices)
            {
                var mark = device.Current ? "*" : " ";
                text.Add($"{mark} {device.DeviceId,2}  {TerminalText.Escape(device.Name).PadRight(width)}  fingerprint {KeyFingerprint(device)}  since {device.CreatedAt.UtcDateTime:yyyy-MM-dd}" +
                         (device.Certified == false ? "  NOT SIGNED BY YOUR IDENTITY KEY: nobody sends to it; remove it" : ""));
            }
            Print(r, json, string.Join('\n', text));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string KeyFingerprint(DeviceInfo device) => device.Fingerprint ?? "(not a key)";

    private static Argument<string> DeviceIdArgument() => new("id") { Description = "The device's id, as 'sealpost devices' lists it" };

    private Command RenameDeviceCommand()
    {
        var id = DeviceIdArgument();
        var name = new Argument<string>("name") { Description = $"The new name, 1 to {Limits.DeviceNameMaxLength} characters" };
        var command = new Command("rename", "Give one of your devices another name") { id, name };
        command.SetAction(async (r, ct) =>
        {
            var deviceId = ParseDeviceId(r.GetValue(id)!);
            var newName = CheckDeviceName(r.GetValue(name), "name")!;
            await using var client = ClientOf(r);
            var renamed = await ExplainedAsync(() => client.Devices.RenameAsync(deviceId, newName, ct), deviceId);
            Print(r, new JsonObject { ["device_id"] = renamed.DeviceId, ["name"] = renamed.Name },
                $"Device {renamed.DeviceId} is now named '{TerminalText.Escape(renamed.Name)}'.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command RemoveDeviceCommand()
    {
        var id = DeviceIdArgument();
        var yes = new Option<bool>("--yes") { Description = "Do not ask (for scripts)" };
        var command = new Command("remove", "Remove one of your other devices (needs your account password): its sessions end and nothing more is sent to it") { id, yes };
        command.SetAction(async (r, ct) =>
        {
            var deviceId = ParseDeviceId(r.GetValue(id)!);
            await using var client = ClientOf(r);
            if (!r.GetValue(yes))
            {
                // The name in the question, and a device that cannot go said before asking rather than after.
                var list = await client.Devices.ListAsync(ct);
                var device = list.Devices.FirstOrDefault(d => d.DeviceId == deviceId) ?? throw Explained(NoSuchDeviceCode, deviceId)!;
                if (device.Current) throw Explained(CurrentDeviceCode, deviceId)!;
                Confirm($"Remove device {deviceId} '{TerminalText.Escape(device.Name)}'? It is logged out and gets no more messages. [y/N] ", "nothing was removed");
            }
            var password = Secret("SEALPOST_PASSWORD", "Account password: ");
            await ExplainedAsync(() => client.Devices.RemoveAsync(deviceId, password, ct), deviceId);
            Print(r, new JsonObject { ["removed"] = deviceId },
                $"Removed device {deviceId}: its sessions have ended and nothing more is sent to it. To use it again, link it anew.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static uint ParseDeviceId(string text) =>
        text.Length <= 10 && uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id >= 1
            ? id
            : throw new CliException(ErrorKind.Invalid, $"'{TerminalText.Escape(text)}' is not a device id: a number from 1, as 'sealpost devices' lists them.");

    /// <summary>A y/N question on the terminal; anything but yes, or no terminal to ask on (without --yes), stops the command.</summary>
    private void Confirm(string question, string otherwise)
    {
        var answer = _console.ReadLine(question)
            ?? throw new CliException(ErrorKind.Invalid, $"There is no terminal to ask on: pass --yes to go ahead without asking; {otherwise}.");
        var said = answer.Trim();
        if (!said.Equals("y", StringComparison.OrdinalIgnoreCase) && !said.Equals("yes", StringComparison.OrdinalIgnoreCase)) throw new CliException(ErrorKind.Invalid, $"Not confirmed; {otherwise}.");
    }

    private const string CurrentDeviceCode = "current-device";
    private const string NoSuchDeviceCode = "no-such-device";

    /// <summary>Runs a device or link call, saying the server's refusals as what to do next here.</summary>
    private static async Task<T> ExplainedAsync<T>(Func<Task<T>> call, uint? deviceId = null)
    {
        try
        {
            return await call();
        }
        catch (SealpostException e) when (Explained(e.ServerCode, deviceId, e) is { } clear)
        {
            throw clear;
        }
    }

    private static Task ExplainedAsync(Func<Task> call, uint? deviceId = null) =>
        ExplainedAsync(async () =>
        {
            await call();
            return true;
        }, deviceId);

    private static CliException? Explained(string? code, uint? deviceId, Exception? inner = null)
    {
        (ErrorKind Kind, string Message)? said = code switch
        {
            CurrentDeviceCode => (ErrorKind.Refused, $"Device {deviceId} is the one you are using: remove it from another of your devices, or run 'sealpost logout' here."),
            NoSuchDeviceCode => (ErrorKind.NotFound, $"Your account has no device {deviceId} (or it was removed); 'sealpost devices' lists them."),
            "link-gone" => (ErrorKind.Refused, "The link code expired or was used already: run 'sealpost link' on the new device again for a new code."),
            "no-such-link" => (ErrorKind.NotFound, "The server knows no link for this code that your account may accept: run 'sealpost link YOUR_USERNAME' on the new device again."),
            "too-many-devices" => (ErrorKind.Refused, $"Your account has {Limits.DevicesMax} devices, as many as it may: remove one first ('sealpost devices remove ID')."),
            _ => null,
        };
        return said is { } s ? new CliException(s.Kind, s.Message, inner) { ServerCode = code } : null;
    }
}
