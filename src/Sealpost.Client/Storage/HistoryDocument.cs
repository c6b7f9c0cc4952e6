namespace Sealpost.Client.Storage;

/// <summary><c>history.json</c> (mode 0600): every message sent and received on this device.</summary>
internal sealed class HistoryDocument
{
    public List<HistoryEntry> Messages { get; set; } = [];
}
