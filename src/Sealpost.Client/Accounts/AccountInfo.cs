using Sealpost.Protocol;

namespace Sealpost.Client.Accounts;

/// <summary>The account as the server has it: its name, display name, and current key with that key's fingerprint.</summary>
public sealed record AccountInfo(string Username, string? DisplayName, uint KeyId, string Fingerprint)
{
    internal static AccountInfo Of(OwnAccount account) => new(account.Username, account.DisplayName, (uint)account.KeyId, account.Fingerprint);
}
