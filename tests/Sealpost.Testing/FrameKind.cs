namespace Sealpost.Testing;

/// <summary>What a <see cref="FrameView"/> is, as far as a load generator cares.</summary>
public enum FrameKind
{
    Other,
    Accepted,
    Message,
    Error,
    Malformed,
}
