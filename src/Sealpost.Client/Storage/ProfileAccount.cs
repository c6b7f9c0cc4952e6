using Sealpost.Client.Accounts;
using Sealpost.Protocol;

namespace Sealpost.Client.Storage;

/// <summary>
/// This profile's <c>account.json</c>: the one place that reads and writes it, and says what a profile without a live
/// account cannot do.
/// </summary>
internal sealed class ProfileAccount(ProfileFolder folder)
{
    /// <summary>The account, or null before register, login or link.</summary>
    public AccountState? Read() => folder.ReadAccountState();

    /// <summary>The account, for what needs one that still exists.</summary>
    public AccountState Require()
    {
        var account = Read() ?? throw new ProfileException(ErrorKind.Auth, ClientErrorCodes.NoAccount, folder.Name, null, $"Profile '{folder.Name}' has no account yet.");
        if (account.DeletedAt is not null)
            throw new ProfileException(ErrorKind.Auth, ClientErrorCodes.AccountDeleted, folder.Name, LocalAccount.Of(account),
                $"The account {account.Username} was deleted on {account.DeletedAt.Value.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)}; " +
                $"profile '{folder.Name}' only keeps its keys and history.");
        return account;
    }

    public void Save(AccountState account) => folder.Write(folder.AccountFile, account, LocalJsonContext.Default.AccountState);

    /// <summary>The account's identity key, once it has one.</summary>
    public static byte[]? IdentityOf(AccountState account) =>
        account.IdentityKey is null ? null : AccountRules.ParseBase64Url(account.IdentityKey, Crypto.IdentityKey.PublicKeySize);
}
