namespace Sealpost.Crypto;

/// <summary>
/// A link code that cannot be read (<see cref="LinkCode.Parse"/>): mistyped (any character changed, dropped or added,
/// caught by the code's check), or, with <see cref="Mistyped"/> false, a well-formed code of a version this library does
/// not link with.
/// </summary>
public sealed class LinkCodeException(string message, bool mistyped) : FormatException(message)
{
    public bool Mistyped { get; } = mistyped;
}
