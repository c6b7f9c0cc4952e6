using System.Diagnostics.CodeAnalysis;
using Sealpost.Client.Contacts;
using Sealpost.Client.Storage;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Messaging;

/// <summary>
/// Opens and verifies a delivered message into the history entry to keep. One that can never open (not an envelope,
/// sealed to a key we do not hold, sender or key unknown, forged, altered) becomes a rejected entry rather than an
/// error, so it is stored, acknowledged and not delivered forever. What may pass (the server unreachable while fetching
/// a key, a wrong passphrase) throws instead, and the message stays on the server.
/// </summary>
internal sealed class Opener(ProfileAccount profile, KeyRing keys, ContactBook contacts, TimeProvider time)
{
    /// <summary>How far the sealed sending time may be from the server's before the message says so.</summary>
    public static readonly TimeSpan SealedTimeTolerance = TimeSpan.FromMinutes(10);

    public async Task<HistoryEntry> OpenAsync(MessageFrame frame, CancellationToken ct)
    {
        var account = profile.Require();
        var entry = new HistoryEntry
        {
            Id = frame.MessageId,
            ClientId = frame.ClientId,
            Direction = HistoryDirections.In,
            Peer = frame.From,
            SentAt = frame.SentAt,
            StoredAt = time.GetUtcNow(),
        };
        HistoryEntry Reject(string why)
        {
            entry.Status = HistoryStatus.Rejected;
            entry.Problem = why;
            entry.Text = null;
            entry.Envelope = frame.Body.Length <= Limits.BodyMaxBase64Chars ? frame.Body : null;
            return entry;
        }

        if (AccountRules.NormalizeUsername(frame.From) is not { } from || from != frame.From) return Reject("The sender's name is not a valid username.");
        var bytes = new byte[frame.Body.Length];
        if (!Convert.TryFromBase64String(frame.Body, bytes, out var length)) return Reject("The body is not base64.");
        var envelope = bytes.AsSpan(0, length).ToArray();
        if (envelope is [(byte)'S', (byte)'P', (byte)'E', EnvelopeV2.Version, ..]) return await OpenV2Async(account, frame, from, envelope, entry, Reject, ct).ConfigureAwait(false);
        if (frame.FromDevice is { } device && device != 1) return Reject($"It claims to come from {from}'s device {device} but is an envelope v1, which only device 1 sends.");
        // An account with an identity key sends envelope v2 only; v1 from one (its id and time are not sealed) is a
        // replay or a downgrade by the server (security review H3, M6).
        if (contacts.Get(from)?.IdentityKey is not null || (from == account.Username && account.IdentityKey is not null))
            return Reject($"An envelope v1 (the old format, without a sealed id or time) from {from}, whose identity key is pinned here: their clients send v2 only, so this is a replay or the server's doing.");
        if (!TryReadHeader(e => Envelope.ReadHeader(e), envelope, out var header, out var malformed)) return Reject(malformed);
        entry.SenderKeyId = header.SenderKeyId;
        entry.RecipientKeyId = header.RecipientKeyId;
        var (plaintext, problem) = await OpenWithAsync(entry, header.RecipientKeyId, from,
            async () => await contacts.ResolveSenderKeyAsync(from, header.SenderKeyId, ct).ConfigureAwait(false) is { } key
                ? (key, null)
                : (null, $"{from} has no key with id {header.SenderKeyId} (or no account): the sender cannot be verified."),
            (mine, sender) => Envelope.Open(envelope, account.Username, header.RecipientKeyId, mine.PrivateKey, from, sender.PublicKey)).ConfigureAwait(false);
        if (problem is not null) return Reject(problem);
        entry.Problem ??= "Sent with the old envelope (v1): its id and time are not sealed, so a replay by the server would not be recognised.";
        return WithPayload(entry, plaintext!, Reject);
    }

    /// <summary>
    /// Opens an envelope v2 (docs/devices.md): sealed to this device, from the device the server names, whose key's
    /// certificate verifies under the sender's identity key. The sealed message id is the message's identity from here
    /// on (so a replay under a new server id is a duplicate); a sent copy from another device of mine becomes an outgoing
    /// entry for the original recipient.
    /// </summary>
    private async Task<HistoryEntry> OpenV2Async(AccountState account, MessageFrame frame, string from, byte[] envelope, HistoryEntry entry, Func<string, HistoryEntry> reject, CancellationToken ct)
    {
        if (!TryReadHeader(e => EnvelopeV2.ReadHeader(e), envelope, out var header, out var malformed)) return reject(malformed);
        entry.SenderKeyId = header.SenderKeyId;
        entry.RecipientKeyId = header.RecipientKeyId;
        entry.FromDevice = header.SenderDeviceId;
        var claimed = (uint)(frame.FromDevice ?? 1);
        if (header.SenderDeviceId != claimed) return reject($"The server says it came from {from}'s device {claimed}; the envelope says device {header.SenderDeviceId}.");
        if (header.RecipientDeviceId != account.DeviceId) return reject($"It was sealed to your device {header.RecipientDeviceId}; this is device {account.DeviceId}.");
        var (content, problem) = await OpenWithAsync(entry, header.RecipientKeyId, $"{from}'s device {header.SenderDeviceId}",
            () => contacts.ResolveDeviceKeyAsync(from, header.SenderDeviceId, header.SenderKeyId, from == account.Username ? ProfileAccount.IdentityOf(account) : null, ct),
            (mine, sender) => EnvelopeV2.Open(envelope, account.Username, account.DeviceId, header.RecipientKeyId, mine.PrivateKey, from, header.SenderDeviceId, sender.PublicKey))
            .ConfigureAwait(false);
        if (problem is not null) return reject(problem);
        entry.ClientId = content!.MessageId.ToString();
        // The sender's clock, sealed, is the message's time; one far from the server's is said (a message the server
        // held back, or a sender whose clock is wrong: docs/envelope.md).
        entry.SentAt = content.SentAt;
        if ((content.SentAt - frame.SentAt).Duration() > SealedTimeTolerance)
            entry.Problem ??= $"Sealed at {content.SentAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, but the server says it was sent at {frame.SentAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z: " +
                "it was held back, or the sender's clock is wrong.";
        if (content.Type == ContentType.SentCopy)
        {
            if (from != account.Username || content.OriginalRecipient is null) return reject("A copy of a sent message that is not from another device of yours.");
            entry.Direction = HistoryDirections.Out;
            entry.Peer = content.OriginalRecipient;
            entry.Status = HistoryStatus.Sent;
        }
        else if (content.Type != ContentType.Message)
        {
            entry.Problem = $"A message this version of Sealpost cannot show (content type {(byte)content.Type}); update Sealpost to read it.";
            return entry;
        }
        return WithPayload(entry, content.Body, reject);
    }

    /// <summary>The envelope's header, or why it is not one (a malformed header never opens, so it is rejected, not retried).</summary>
    private static bool TryReadHeader<T>(Func<byte[], T> read, byte[] envelope, out T header, [NotNullWhen(false)] out string? problem) where T : struct
    {
        try
        {
            header = read(envelope);
            problem = null;
            return true;
        }
        catch (CryptoException e)
        {
            header = default;
            problem = e.Message;
            return false;
        }
    }

    /// <summary>
    /// What both versions share once the header is read: a key of ours the envelope names, the sender's key, and the
    /// envelope opened with both; the entry's status then says whether the user trusts the sender's key. The reason to
    /// reject when any of it fails.
    /// </summary>
    private async Task<(T? Opened, string? Problem)> OpenWithAsync<T>(
        HistoryEntry entry, uint recipientKeyId, string sender, Func<Task<(SenderKey? Key, string? Problem)>> resolve, Func<X25519KeyPair, SenderKey, T> open)
        where T : class
    {
        if (!keys.Has(recipientKeyId)) return (null, $"It was sealed to your key id {recipientKeyId}, which this device does not hold.");
        var mine = keys.Get(recipientKeyId);
        var (key, problem) = await resolve().ConfigureAwait(false);
        if (key is null) return (null, problem);
        T opened;
        try
        {
            opened = open(mine, key);
        }
        catch (CryptoException e)
        {
            return (null, $"It does not open as a message from {sender}: {e.Message}");
        }
        entry.Status = key.Trusted ? HistoryStatus.Ok : HistoryStatus.UnverifiedKey;
        entry.Problem = key.Note;
        return (opened, null);
    }

    /// <summary>What an opened message holds, in its entry: a text or a file, or a receipt (never kept); unreadable is rejected.</summary>
    private static HistoryEntry WithPayload(HistoryEntry entry, byte[] plaintext, Func<string, HistoryEntry> reject)
    {
        if (MessagePayload.Decode(plaintext, out var unreadable) is not { } payload) return reject(unreadable!);
        if (payload.DeliveredClientIds is not null)
        {
            entry.Status = HistoryStatus.Receipt;
            return entry;
        }
        entry.Text = payload.Text;
        entry.FileName = payload.FileName;
        entry.FileData = payload.FileData;
        entry.FileSize = payload.FileData?.Length;
        return entry;
    }
}
