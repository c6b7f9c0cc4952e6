using Sealpost.Client.Accounts;

namespace Sealpost.Client;

/// <summary>The profile cannot do what was asked as it stands: no account yet, a deleted one, another one, or no key of its device.</summary>
public sealed class ProfileException : SealpostException
{
    internal ProfileException(ErrorKind kind, string code, string profile, LocalAccount? account, string message) : base(kind, code, message)
    {
        Profile = profile;
        Account = account;
    }

    /// <summary>The profile's name.</summary>
    public string Profile { get; }

    /// <summary>The account the profile holds; null when it holds none.</summary>
    public LocalAccount? Account { get; }

    /// <summary>For <see cref="ClientErrorCodes.ProfileOfAnotherAccount"/>: the account that was asked for.</summary>
    public string? Username { get; internal init; }
}
