using System.Globalization;
using Sealpost.Client;
using Sealpost.Client.Accounts;
using Sealpost.Client.Contacts;

namespace Sealpost.Cli;

/// <summary>
/// What the CLI says about the SDK's failures: the SDK names the failure by its code and says what happened; the CLI
/// adds what to do next here, in its own commands ("run 'sealpost login'"). Every sentence is the one the CLI has
/// always printed (docs/cli.md), so scripts and people see no change.
/// </summary>
internal static class Hints
{
    /// <summary>The one line the CLI prints for <paramref name="e"/>.</summary>
    public static string Say(SealpostException e) => e switch
    {
        ProfileException p => About(p),
        KeyChangedException { Code: ClientErrorCodes.KeyChanged } k => $"{k.Message} Compare fingerprints with them, then run 'sealpost trust {k.Status.Username}'.",
        KeyChangedException k => $"{k.Message} Compare safety numbers with them, then run 'sealpost trust {k.Status.Username}'.",
        { Code: ClientErrorCodes.NotLoggedIn } => "You are not logged in: run 'sealpost login <username>'.",
        { Code: ClientErrorCodes.SessionEnded } => "Your session has ended: run 'sealpost login <username>' again.",
        { Code: ClientErrorCodes.SessionRefused } => "The messages service refused the session: run 'sealpost login <username>' again.",
        { Code: ClientErrorCodes.CertificateUntrusted } =>
            $"{e.Message} If it is a server's own certificate (scripts/up prints its), trust that one with --server-certificate FILE or $SEALPOST_SERVER_CERTIFICATE.",
        _ => e.Message,
    };

    /// <summary>What a profile whose account was deleted from it still is.</summary>
    public static string AccountDeleted(LocalAccount account, string profile) =>
        $"The account {account.Username} was deleted on {account.DeletedAt?.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}; " +
        $"profile '{profile}' only keeps its keys and history. Register anew with another --profile.";

    /// <summary>
    /// The JSON error's <c>server_code</c>: the server's code when the server refused. <c>account-deleted</c> has been
    /// reported there since before the SDK had codes of its own, so it stays there.
    /// </summary>
    public static string? ServerCodeOf(Exception e) => e switch
    {
        SealpostException { Code: ClientErrorCodes.AccountDeleted } s => s.Code,
        SealpostException s => s.ServerCode,
        CliException c => c.ServerCode,
        _ => null,
    };

    private static string About(ProfileException p) => p.Code switch
    {
        ClientErrorCodes.NoAccount => $"Profile '{p.Profile}' has no account yet: run 'sealpost register <username>' or 'sealpost login <username>'.",
        ClientErrorCodes.AccountDeleted when p.Account is { } account => AccountDeleted(account, p.Profile),
        ClientErrorCodes.ProfileHasAccount => $"Profile '{p.Profile}' already holds the account {p.Account?.Username}; use another --profile.",
        ClientErrorCodes.ProfileOfAnotherAccount => $"Profile '{p.Profile}' belongs to {p.Account?.Username}; use another --profile for {p.Username}.",
        ClientErrorCodes.NoDeviceKey when p.Account is { } account =>
            $"Profile '{p.Profile}' holds no key of {account.Username}'s device {account.DeviceId}, so it cannot read messages, and reading " +
            $"here would take them from the device that can. Link this machine instead: 'sealpost link' here, then 'sealpost link accept <code>' on a device of {account.Username}.",
        _ => p.Message,
    };
}
