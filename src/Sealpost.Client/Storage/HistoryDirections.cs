namespace Sealpost.Client.Storage;

/// <summary>The direction strings of <c>history.json</c>; callers see them as <see cref="Messaging.MessageDirection"/>.</summary>
internal static class HistoryDirections
{
    public const string In = "in";
    public const string Out = "out";
}
