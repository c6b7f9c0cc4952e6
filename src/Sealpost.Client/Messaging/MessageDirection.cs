namespace Sealpost.Client.Messaging;

public enum MessageDirection
{
    /// <summary>From the peer to this account.</summary>
    In,

    /// <summary>From this account to the peer: sent here, or a copy of what another device of this account sent.</summary>
    Out,
}
