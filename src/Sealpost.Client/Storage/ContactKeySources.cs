namespace Sealpost.Client.Storage;

internal static class ContactKeySources
{
    public const string Pinned = "pinned";
    public const string Server = "server";
}
