using System.Text;

namespace Sealpost.Cli;

/// <summary>Everything the CLI takes from the world outside, so tests can run every command in-process.</summary>
public sealed class CliConsole
{
    public required TextWriter Out { get; init; }
    public required TextWriter Error { get; init; }
    public required TextReader In { get; init; }

    /// <summary>Environment variables (SEALPOST_*); tests pass a dictionary.</summary>
    public required Func<string, string?> Environment { get; init; }

    /// <summary>Asks for a secret without echoing it; null when there is no terminal to ask on.</summary>
    public required Func<string, string?> ReadSecret { get; init; }

    /// <summary>The real console: prompts go to stderr so stdout stays clean for scripts.</summary>
    public static CliConsole System() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        In = Console.In,
        Environment = global::System.Environment.GetEnvironmentVariable,
        ReadSecret = PromptWithoutEcho,
    };

    private static string? PromptWithoutEcho(string prompt)
    {
        if (Console.IsInputRedirected) return null;
        Console.Error.Write(prompt);
        var secret = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (secret.Length > 0) secret.Length--;
                continue;
            }
            if (!char.IsControl(key.KeyChar)) secret.Append(key.KeyChar);
        }
        Console.Error.WriteLine();
        return secret.ToString();
    }
}
