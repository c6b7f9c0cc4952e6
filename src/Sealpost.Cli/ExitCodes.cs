using Sealpost.Client;
using Sealpost.Crypto;

namespace Sealpost.Cli;

/// <summary>The CLI's exit codes, documented in docs/cli.md; scripts switch on them.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>Bad arguments or input (also what System.CommandLine returns for a parse error).</summary>
    public const int Usage = 1;

    public const int Network = 2;

    /// <summary>Not logged in, wrong password, session ended.</summary>
    public const int Auth = 3;

    /// <summary>A contact's key changed and is not trusted yet.</summary>
    public const int KeyChanged = 4;

    public const int NotFound = 5;

    /// <summary>Wrong passphrase, damaged key file, an envelope that does not open.</summary>
    public const int Crypto = 6;

    /// <summary>The server refused: name taken, mailbox full, rate limited.</summary>
    public const int Refused = 7;

    /// <summary>A bug: the message says what happened; please report it.</summary>
    public const int Unexpected = 8;

    public const int Interrupted = 130;

    public static int Of(ErrorKind kind) => kind switch
    {
        ErrorKind.Invalid => Usage,
        ErrorKind.Network => Network,
        ErrorKind.Auth => Auth,
        ErrorKind.KeyChanged => KeyChanged,
        ErrorKind.NotFound => NotFound,
        ErrorKind.Crypto => Crypto,
        ErrorKind.Refused => Refused,
        _ => Unexpected,
    };

    /// <summary>The name of an exit code in a JSON error object (<c>{"error":{"code":…}}</c>).</summary>
    public static string Name(int code) => code switch
    {
        Usage => "usage",
        Network => "network",
        Auth => "auth",
        KeyChanged => "key_changed",
        NotFound => "not_found",
        Crypto => "crypto",
        Refused => "refused",
        Interrupted => "interrupted",
        _ => "unexpected",
    };

    /// <summary>The exit code and one-line message for an exception; never a stack trace.</summary>
    public static (int Code, string Message) Of(Exception e) => e switch
    {
        SealpostException s => (Of(s.Kind), Hints.Say(s)),
        CliException c => (Of(c.Kind), c.Message),
        KeyFileException k => (Crypto, k.Message),
        CryptoException c => (Crypto, c.Message),
        OperationCanceledException => (Interrupted, "Interrupted."),
        _ => (Unexpected, $"Unexpected error ({e.GetType().Name}): {e.Message}"),
    };
}
