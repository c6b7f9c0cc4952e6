using System.Buffers.Text;
using System.CommandLine;
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
        var text = new Argument<string?>("text") { Description = "The plaintext; standard input when absent", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("seal", "Seal a plaintext into an envelope v1 (HPKE auth mode)")
        {
            sender, senderKey, senderKeyId, recipient, recipientKey, recipientKeyId, hex, text,
        };
        command.SetAction(async (r, ct) =>
        {
            var plaintext = Encoding.UTF8.GetBytes(r.GetValue(text) ?? await ReadStandardInputAsync("the plaintext is text", ct));
            if (plaintext.Length > Envelope.MaxPlaintextSize)
                throw new CliException(ErrorKind.Invalid, $"The plaintext is {plaintext.Length} bytes; an envelope carries at most {Envelope.MaxPlaintextSize} bytes.");
            var envelope = Envelope.Seal(
                new EnvelopeParty(UsernameOption(r.GetValue(sender)!), r.GetValue(senderKeyId), RawKey(r.GetValue(senderKey)!, "--sender-private-key")),
                new EnvelopeRecipient(UsernameOption(r.GetValue(recipient)!), r.GetValue(recipientKeyId), RawKey(r.GetValue(recipientKey)!, "--recipient-public-key")),
                plaintext);
            var body = r.GetValue(hex) ? Convert.ToHexStringLower(envelope) : Convert.ToBase64String(envelope);
            Print(r, new JsonObject
            {
                ["envelope_base64"] = Convert.ToBase64String(envelope),
                ["envelope_hex"] = Convert.ToHexStringLower(envelope),
                ["sender_key_id"] = r.GetValue(senderKeyId),
                ["recipient_key_id"] = r.GetValue(recipientKeyId),
            }, body);
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command OpenCommand()
    {
        var recipient = new Option<string>("--recipient") { Description = "Recipient username (you)", Required = true };
        var recipientKey = new Option<string>("--recipient-private-key") { Description = "Recipient's X25519 private key (hex or base64)", Required = true };
        var recipientKeyId = new Option<uint?>("--recipient-key-id") { Description = "Recipient's key id; by default the one in the envelope's header" };
        var sender = new Option<string>("--sender") { Description = "Claimed sender username", Required = true };
        var senderKey = new Option<string>("--sender-public-key") { Description = "Sender's X25519 public key (hex or base64)", Required = true };
        var envelopeText = new Argument<string?>("envelope") { Description = "The envelope as standard base64, base64url or hex; standard input when absent", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("open", "Open an envelope v1 and verify its sender")
        {
            recipient, recipientKey, recipientKeyId, sender, senderKey, envelopeText,
        };
        command.SetAction(async (r, ct) =>
        {
            var envelope = EnvelopeBytes(r.GetValue(envelopeText) ?? await ReadStandardInputAsync("an envelope is base64 or hex", ct));
            var header = Envelope.ReadHeader(envelope);
            var plaintext = Envelope.Open(
                envelope, UsernameOption(r.GetValue(recipient)!), r.GetValue(recipientKeyId) ?? header.RecipientKeyId,
                RawKey(r.GetValue(recipientKey)!, "--recipient-private-key"), UsernameOption(r.GetValue(sender)!), RawKey(r.GetValue(senderKey)!, "--sender-public-key"));
            string message;
            try
            {
                message = StrictUtf8.GetString(plaintext);
            }
            catch (DecoderFallbackException e)
            {
                throw new CliException(ErrorKind.Crypto, "The envelope opened, but its plaintext is not UTF-8.", e);
            }
            // Lines stay lines (this output is for other programs too), but no control character reaches the terminal.
            Print(r, new JsonObject { ["text"] = message, ["sender_key_id"] = header.SenderKeyId, ["recipient_key_id"] = header.RecipientKeyId },
                TerminalText.EscapeLines(message, indent: ""));
            return ExitCodes.Ok;
        });
        return command;
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
