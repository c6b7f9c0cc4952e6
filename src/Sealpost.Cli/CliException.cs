using Sealpost.Client;

namespace Sealpost.Cli;

/// <summary>A failure the CLI finds itself (a bad argument, no terminal to ask on), in its own words; the kind picks the exit code.</summary>
public sealed class CliException : Exception
{
    public CliException(ErrorKind kind, string message, Exception? innerException = null) : base(message, innerException) => Kind = kind;

    public ErrorKind Kind { get; }

    /// <summary>The server's code this failure stands for (a refusal the CLI foresaw or said again in its words), for the JSON error's <c>server_code</c>.</summary>
    public string? ServerCode { get; init; }
}
