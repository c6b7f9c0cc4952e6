using Sealpost.Client.Storage;

namespace Sealpost.Client.Messaging;

/// <summary>
/// The messages this device sent and received, in <c>history.json</c>; readable without a server or a passphrase. The
/// whole file is rewritten on each change, under the profile lock: simple and atomic, and fine for the thousands of
/// messages a CLI keeps.
/// </summary>
public sealed class MessageHistory(ProfileFolder folder)
{
    /// <summary>The messages kept here, oldest first: only those with <paramref name="peer"/>, only the last <paramref name="last"/>.</summary>
    public IReadOnlyList<Message> List(string? peer = null, int? last = null) => [.. Entries(peer, last).Select(Message.Of)];

    internal IReadOnlyList<HistoryEntry> Entries(string? peer = null, int? last = null)
    {
        IEnumerable<HistoryEntry> entries = Load().Messages;
        if (peer is not null) entries = entries.Where(e => e.Peer == peer);
        var list = entries.ToList();
        return last is { } n && list.Count > n ? list[^n..] : list;
    }

    /// <summary>Whether a message with this id and direction is stored already: the duplicate check for at-least-once delivery.</summary>
    internal bool Contains(string id, string direction = HistoryDirections.In) =>
        Load().Messages.Exists(e => e.Id == id && e.Direction == direction);

    /// <summary>
    /// Whether this incoming message is stored already: the same message id, or the same sender and client id (a resend
    /// the server took as a new message). This is the whole duplicate check a client needs (docs/protocol.md).
    /// </summary>
    internal bool ContainsIncoming(string id, string from, string? clientId) =>
        Load().Messages.Exists(e => e.Direction == HistoryDirections.In && (e.Id == id || (clientId is not null && e.ClientId == clientId && e.Peer == from)));

    /// <summary>Stores the entry durably; false, and nothing written, when one with the same id and direction is already there.</summary>
    internal async Task<bool> AddAsync(HistoryEntry entry, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(entry);
        using var held = await folder.LockAsync(ct).ConfigureAwait(false);
        var document = Load();
        // The same message again: by the server's id, or (a resend, a replay, a sent copy that came twice) by the
        // sender's own id for it.
        if (document.Messages.Exists(e => e.Id == entry.Id && e.Direction == entry.Direction)
            || (entry.ClientId is not null
                && document.Messages.Exists(e => e.Direction == entry.Direction && e.ClientId == entry.ClientId && e.Peer == entry.Peer))) return false;
        document.Messages.Add(entry);
        folder.Write(folder.HistoryFile, document, LocalJsonContext.Default.HistoryDocument);
        return true;
    }

    private HistoryDocument Load() => folder.Read(folder.HistoryFile, LocalJsonContext.Default.HistoryDocument) ?? new HistoryDocument();
}
