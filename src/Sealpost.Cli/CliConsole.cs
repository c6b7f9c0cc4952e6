namespace Sealpost.Cli;

/// <summary>Everything the CLI takes from the world outside, so tests can run every command in-process.</summary>
public sealed class CliConsole
{
    public required TextWriter Out { get; init; }
    public required TextWriter Error { get; init; }

    /// <summary>Standard input as bytes: a message may be text or not, and only bytes can tell.</summary>
    public required Stream In { get; init; }

    /// <summary>Whether standard input is a terminal (a person typing) rather than a pipe or a file.</summary>
    public bool InputIsTerminal { get; init; }

    /// <summary>Environment variables (SEALPOST_*); tests pass a dictionary.</summary>
    public required Func<string, string?> Environment { get; init; }

    /// <summary>Asks for a secret on the terminal without echoing it; null when there is no terminal to ask on.</summary>
    public required Func<string, string?> ReadSecret { get; init; }

    /// <summary>Asks for a line on the terminal (a confirmation); null when there is no terminal to ask on.</summary>
    public Func<string, string?> ReadLine { get; init; } = _ => null;

    /// <summary>
    /// The real console. Prompts go to the controlling terminal, not stdin or stdout, so stdin can carry a message and
    /// stdout stays clean for scripts; Ctrl-C (<paramref name="interrupted"/>) ends a prompt at once.
    /// </summary>
    public static CliConsole System(CancellationToken interrupted)
    {
        var tty = new TtyPrompt(interrupted);
        return new()
        {
            Out = Console.Out,
            Error = Console.Error,
            In = Console.OpenStandardInput(),
            InputIsTerminal = !Console.IsInputRedirected,
            Environment = global::System.Environment.GetEnvironmentVariable,
            ReadSecret = tty.ReadSecret,
            ReadLine = tty.ReadLine,
        };
    }
}
