using System.Buffers.Text;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Sealpost.Client;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Cli;

/// <summary>
/// <c>sealpost envelope</c>: offline seal/open with raw keys, so authors of other clients can check their envelopes
/// against this implementation. No server, profile or key file is involved.
/// </summary>
public sealed partial class CliApp
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private Command EnvelopeCommand()
    {
        var command = new Command("envelope", "Offline envelope tools taking raw keys (hex or base64), for testing other clients");
        command.Subcommands.Add(SealCommand());
        command.Subcommands.Add(OpenCommand());
        command.Subcommands.Add(KeygenCommand());
        return command;
    }

    private Command SealCommand()
    {
        var sender = new Option<string>("--sender") { Description = "Sender username", Required = true };
        var senderKey = new Option<string>("--sender-private-key") { Description = "Sender's X25519 private key (hex or base64)", Required = true };
        var senderKeyId = new Option<uint>("--sender-key-id") { Description = "Sender's key id", DefaultValueFactory = _ => 1 };
        var recipient = new Option<string>("--recipient") { Description = "Recipient username", Required = true };
        var recipientKey = new Option<string>("--recipient-public-key") { Description = "Recipient's X25519 public key (hex or base64)", Required = true };
        var recipientKeyId = new Option<uint>("--recipient-key-id") { Description = "Recipient's key id", DefaultValueFactory = _ => 1 };
        var hex = new Option<bool>("--hex") { Description = "Print the envelope as hex instead of standard base64" };
        var v2 = new V2SealOptions();
        var text = new Argument<string?>("text") { Description = "The plaintext (the body, for --v2); standard input when absent", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("seal", "Seal a plaintext into an envelope v1, or with --v2 into an envelope v2 between two devices (HPKE auth mode)")
        {
            sender, senderKey, senderKeyId, recipient, recipientKey, recipientKeyId, hex,
            v2.V2, v2.SenderDevice, v2.RecipientDevice, v2.MessageId, v2.SentAt, v2.Type, v2.OriginalRecipient, v2.BodyHex, text,
        };
        command.SetAction(async (r, ct) =>
        {
            var (from, to) = (UsernameOption(r.GetValue(sender)!), UsernameOption(r.GetValue(recipient)!));
            var (privateKey, publicKey) = (RawKey(r.GetValue(senderKey)!, "--sender-private-key"), RawKey(r.GetValue(recipientKey)!, "--recipient-public-key"));
            JsonObject json;
            byte[] envelope;
            if (r.GetValue(v2.V2))
            {
                if (r.GetValue(v2.BodyHex) is not null && r.GetValue(text) is not null)
                    throw new CliException(ErrorKind.Invalid, "Give the body as text or as --body-hex, not both.");
                var body = r.GetValue(v2.BodyHex) is { } bodyHex ? HexOption(bodyHex, "--body-hex")
                    : Encoding.UTF8.GetBytes(r.GetValue(text) ?? await ReadStandardInputAsync("the body is text; use --body-hex for bytes", ct));
                var content = v2.Content(r, from, to, body);
                var (senderDevice, recipientDevice) = (r.GetValue(v2.SenderDevice) ?? 1, r.GetValue(v2.RecipientDevice) ?? 1);
                envelope = EnvelopeV2.Seal(new DeviceSender(from, senderDevice, r.GetValue(senderKeyId), privateKey),
                    new DeviceRecipient(to, recipientDevice, r.GetValue(recipientKeyId), publicKey), content);
                json = V2Json(EnvelopeV2.ReadHeader(envelope), content, from, to);
            }
            else
            {
                V2SealOptions.RefuseWithoutV2(r, v2);
                var plaintext = Encoding.UTF8.GetBytes(r.GetValue(text) ?? await ReadStandardInputAsync("the plaintext is text", ct));
                if (plaintext.Length > Envelope.MaxPlaintextSize)
                    throw new CliException(ErrorKind.Invalid, $"The plaintext is {plaintext.Length} bytes; an envelope carries at most {Envelope.MaxPlaintextSize} bytes.");
                envelope = Envelope.Seal(new EnvelopeParty(from, r.GetValue(senderKeyId), privateKey), new EnvelopeRecipient(to, r.GetValue(recipientKeyId), publicKey), plaintext);
                json = new JsonObject { ["sender_key_id"] = r.GetValue(senderKeyId), ["recipient_key_id"] = r.GetValue(recipientKeyId) };
            }
            json.Insert(0, "envelope_base64", Convert.ToBase64String(envelope));
            json.Insert(1, "envelope_hex", Convert.ToHexStringLower(envelope));
            Print(r, json, r.GetValue(hex) ? Convert.ToHexStringLower(envelope) : Convert.ToBase64String(envelope));
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command OpenCommand()
    {
        var recipient = new Option<string>("--recipient") { Description = "Recipient username (you)", Required = true };
        var recipientKey = new Option<string>("--recipient-private-key") { Description = "Recipient's X25519 private key (hex or base64)", Required = true };
        var recipientKeyId = new Option<uint?>("--recipient-key-id") { Description = "Recipient's key id; by default the one in the envelope's header" };
        var recipientDevice = new Option<uint?>("--recipient-device") { Description = "v2: your device id; by default the one in the header" };
        var sender = new Option<string>("--sender") { Description = "Claimed sender username", Required = true };
        var senderKey = new Option<string>("--sender-public-key") { Description = "Sender's (device's) X25519 public key (hex or base64)", Required = true };
        var senderDevice = new Option<uint?>("--sender-device") { Description = "v2: the sender's device id; by default the one in the header" };
        var envelopeText = new Argument<string?>("envelope") { Description = "The envelope as standard base64, base64url or hex; standard input when absent", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("open", "Open an envelope (v1 or v2, as its bytes say), verify its sender and show every sealed field")
        {
            recipient, recipientKey, recipientKeyId, recipientDevice, sender, senderKey, senderDevice, envelopeText,
        };
        command.SetAction(async (r, ct) =>
        {
            var envelope = EnvelopeBytes(r.GetValue(envelopeText) ?? await ReadStandardInputAsync("an envelope is base64 or hex", ct));
            var (to, from) = (UsernameOption(r.GetValue(recipient)!), UsernameOption(r.GetValue(sender)!));
            var (privateKey, publicKey) = (RawKey(r.GetValue(recipientKey)!, "--recipient-private-key"), RawKey(r.GetValue(senderKey)!, "--sender-public-key"));
            if (envelope is [(byte)'S', (byte)'P', (byte)'E', var version, ..] && version is not (Envelope.Version or EnvelopeV2.Version))
                throw new CliException(ErrorKind.Crypto, $"This envelope is version {version}; this version of Sealpost opens versions {Envelope.Version} and {EnvelopeV2.Version}.");
            if (envelope is [_, _, _, EnvelopeV2.Version, ..])
            {
                var header = EnvelopeV2.ReadHeader(envelope);
                var content = EnvelopeV2.Open(envelope, to, r.GetValue(recipientDevice) ?? header.RecipientDeviceId, r.GetValue(recipientKeyId) ?? header.RecipientKeyId,
                    privateKey, from, r.GetValue(senderDevice) ?? header.SenderDeviceId, publicKey);
                var json = V2Json(header, content, from, to);
                Print(r, json, V2Text(json, header, content, from, to));
                return ExitCodes.Ok;
            }
            if (r.GetValue(recipientDevice) is not null || r.GetValue(senderDevice) is not null)
                throw new CliException(ErrorKind.Invalid, "This is an envelope v1, which names no devices: leave out --sender-device and --recipient-device.");
            var v1 = Envelope.ReadHeader(envelope);
            var plaintext = Envelope.Open(envelope, to, r.GetValue(recipientKeyId) ?? v1.RecipientKeyId, privateKey, from, publicKey);
            var message = Utf8Text(plaintext) ?? throw new CliException(ErrorKind.Crypto, "The envelope opened, but its plaintext is not UTF-8.");
            // Lines stay lines (this output is for other programs too), but no control character reaches the terminal.
            Print(r, new JsonObject { ["text"] = message, ["sender_key_id"] = v1.SenderKeyId, ["recipient_key_id"] = v1.RecipientKeyId },
                TerminalText.EscapeLines(message, indent: ""));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Every field an envelope v2 seals, and its header, as <c>seal --json</c> and <c>open --json</c> show them.</summary>
    private static JsonObject V2Json(EnvelopeV2Header header, SealedContent content, string from, string to) => new()
    {
        ["version"] = EnvelopeV2.Version,
        ["sender"] = from,
        ["sender_device_id"] = header.SenderDeviceId,
        ["sender_key_id"] = header.SenderKeyId,
        ["recipient"] = to,
        ["recipient_device_id"] = header.RecipientDeviceId,
        ["recipient_key_id"] = header.RecipientKeyId,
        ["content_type"] = (byte)content.Type,
        ["content_type_name"] = ContentTypeName(content.Type),
        ["message_id"] = content.MessageId.ToString("D"),
        ["sent_at"] = content.SentAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        ["sent_at_ms"] = content.SentAt.ToUnixTimeMilliseconds(),
        ["original_recipient"] = content.OriginalRecipient,
        // The body as text when it is text (not a file or receipt, whose first byte is 0xFF: docs/cli.md), and always as hex.
        ["text"] = content.Body is [0xFF, ..] ? null : Utf8Text(content.Body),
        ["body_hex"] = Convert.ToHexStringLower(content.Body),
    };

    private static string V2Text(JsonObject json, EnvelopeV2Header header, SealedContent content, string from, string to)
    {
        var type = (byte)content.Type;
        var lines = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"envelope v2 from {from}'s device {header.SenderDeviceId} (key id {header.SenderKeyId}) to {to}'s device {header.RecipientDeviceId} (key id {header.RecipientKeyId})\n")
            .Append(CultureInfo.InvariantCulture, $"content type {type} ({ContentTypeName(content.Type) ?? "reserved: a client shows \"a message this version cannot show\""})\n")
            .Append(CultureInfo.InvariantCulture, $"message id {json["message_id"]}\n")
            .Append(CultureInfo.InvariantCulture, $"sent at {json["sent_at"]} ({json["sent_at_ms"]})\n");
        if (content.OriginalRecipient is { } original) lines.Append(CultureInfo.InvariantCulture, $"original recipient {original}\n");
        return json["text"] is { } text
            ? lines.Append('\n').Append(TerminalText.EscapeLines(text.GetValue<string>(), indent: "")).ToString()
            : lines.Append(CultureInfo.InvariantCulture, $"body (hex) {json["body_hex"]}").ToString();
    }

    private static string? ContentTypeName(ContentType type) => type switch
    {
        ContentType.Message => "message",
        ContentType.SentCopy => "sent-copy",
        _ => null,
    };

    private static string? Utf8Text(byte[] bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>The options of <c>seal --v2</c>: the devices and what the envelope seals besides the body.</summary>
    private sealed class V2SealOptions
    {
        public Option<bool> V2 { get; } = new("--v2") { Description = "Seal an envelope v2 (devices, message id, sending time, content type) instead of v1" };
        public Option<uint?> SenderDevice { get; } = new("--sender-device") { Description = "v2: the sender's device id (default 1)" };
        public Option<uint?> RecipientDevice { get; } = new("--recipient-device") { Description = "v2: the recipient's device id (default 1)" };
        public Option<string?> MessageId { get; } = new("--message-id") { Description = "v2: the sealed message id, a UUID (default: a fresh UUIDv7)" };
        public Option<string?> SentAt { get; } = new("--sent-at") { Description = "v2: the sealed sending time, ISO 8601 (default: now)" };
        public Option<string?> Type { get; } = new("--content-type") { Description = "v2: message (1), sent-copy (2) or a number 0-255 (default message)" };
        public Option<string?> OriginalRecipient { get; } = new("--original-recipient") { Description = "v2, sent-copy: whom the original went to" };
        public Option<string?> BodyHex { get; } = new("--body-hex") { Description = "v2: the body as hex bytes instead of text (a file or receipt payload)" };

        /// <summary>An option of v2 given without <c>--v2</c> would be silently ignored: refuse it instead.</summary>
        public static void RefuseWithoutV2(ParseResult r, V2SealOptions v2)
        {
            foreach (var option in new Option[] { v2.SenderDevice, v2.RecipientDevice, v2.MessageId, v2.SentAt, v2.Type, v2.OriginalRecipient, v2.BodyHex })
            {
                if (r.GetResult(option) is { Implicit: false })
                    throw new CliException(ErrorKind.Invalid, $"{option.Name} is an option of envelope v2: add --v2 (without it, seal makes an envelope v1).");
            }
        }

        public SealedContent Content(ParseResult r, string from, string to, byte[] body)
        {
            var type = ParseContentType(r.GetValue(Type));
            var original = r.GetValue(OriginalRecipient) is { } name ? UsernameOption(name) : null;
            if (type == ContentType.SentCopy)
            {
                if (original is null) throw new CliException(ErrorKind.Invalid, "A sent copy names the original recipient: add --original-recipient NAME.");
                if (from != to)
                    throw new CliException(ErrorKind.Invalid, $"A sent copy goes to the devices of the sender's own account only: --recipient must be {from}, not {to}.");
            }
            else if (original is not null)
                throw new CliException(ErrorKind.Invalid, "--original-recipient is for a sent copy (--content-type sent-copy) only.");
            if (body.Length > EnvelopeV2.MaxBodySize)
                throw new CliException(ErrorKind.Invalid, $"The body is {body.Length} bytes; an envelope v2 carries at most {EnvelopeV2.MaxBodySize} bytes of body.");
            return new SealedContent(type, ParseMessageId(r.GetValue(MessageId)), ParseSentAt(r.GetValue(SentAt)), original, body);
        }

        private static ContentType ParseContentType(string? text) => text switch
        {
            null or "message" => ContentType.Message,
            "sent-copy" => ContentType.SentCopy,
            _ when text.All(char.IsAsciiDigit) && byte.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) => (ContentType)number,
            _ => throw new CliException(ErrorKind.Invalid, $"--content-type is message, sent-copy or a number from 0 to 255; got \"{text}\"."),
        };

        private static Guid ParseMessageId(string? text) =>
            text is null ? Guid.CreateVersion7()
            : Guid.TryParseExact(text, "D", out var id) ? id
            : throw new CliException(ErrorKind.Invalid, $"--message-id is a UUID written 8-4-4-4-12 (e.g. 0193795a-8f00-7000-8000-000000000001); got \"{text}\".");

        private static readonly string[] IsoFormats = ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"];

        private static DateTimeOffset ParseSentAt(string? text)
        {
            if (text is null) return DateTimeOffset.UtcNow;
            if (!DateTimeOffset.TryParseExact(text, IsoFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                throw new CliException(ErrorKind.Invalid, $"--sent-at is an ISO 8601 time such as 2026-12-01T06:00:00Z; got \"{text}\".");
            if (at < DateTimeOffset.UnixEpoch) throw new CliException(ErrorKind.Invalid, "--sent-at is 1970-01-01T00:00:00Z or later: the time is sealed as milliseconds since then.");
            return at;
        }
    }

    private Command KeygenCommand()
    {
        var command = new Command("keygen", "Print a fresh X25519 key pair in hex (for tests: the private key is shown)");
        command.SetAction(r =>
        {
            var pair = X25519KeyPair.Generate();
            Print(r, new JsonObject { ["private_key"] = Convert.ToHexStringLower(pair.PrivateKey), ["public_key"] = Convert.ToHexStringLower(pair.PublicKey) },
                $"private_key {Convert.ToHexStringLower(pair.PrivateKey)}\npublic_key  {Convert.ToHexStringLower(pair.PublicKey)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string UsernameOption(string value) =>
        AccountRules.NormalizeUsername(value) is { } name && name == value
            ? name
            : throw new CliException(ErrorKind.Invalid, $"\"{value}\" is not a username: 3 to 32 characters from a-z, 0-9 and '_', in lower case.");

    /// <summary>A 32-byte key as 64 hex digits, or base64 / base64url with or without padding.</summary>
    internal static byte[] RawKey(string text, string option)
    {
        text = text.Trim();
        if (text.Length == 64 && IsHex(text)) return Convert.FromHexString(text);
        var trimmed = text.TrimEnd('=').Replace('+', '-').Replace('/', '_');
        if (Base64Url.IsValid(trimmed, out var length) && length == X25519KeyPair.KeySize) return Base64Url.DecodeFromChars(trimmed);
        throw new CliException(ErrorKind.Invalid, $"{option} is not a 32-byte key in hex (64 digits) or base64.");
    }

    private static byte[] HexOption(string text, string option) =>
        text.Length % 2 == 0 && IsHex(text) ? Convert.FromHexString(text) : throw new CliException(ErrorKind.Invalid, $"{option} is not hex (an even number of digits 0-9, a-f).");

    /// <summary>Hex when it is only hex digits, else standard base64 or base64url; white space is ignored.</summary>
    internal static byte[] EnvelopeBytes(string text)
    {
        var compact = string.Concat(text.Where(c => !char.IsWhiteSpace(c)));
        if (compact.Length % 2 == 0 && compact.Length > 0 && IsHex(compact)) return Convert.FromHexString(compact);
        var trimmed = compact.TrimEnd('=').Replace('+', '-').Replace('/', '_');
        if (trimmed.Length > 0 && Base64Url.IsValid(trimmed)) return Base64Url.DecodeFromChars(trimmed);
        throw new CliException(ErrorKind.Invalid, "The envelope is neither hex nor base64.");
    }

    private static bool IsHex(string text) => text.All(char.IsAsciiHexDigit);
}
