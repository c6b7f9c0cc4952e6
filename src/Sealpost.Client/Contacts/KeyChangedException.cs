namespace Sealpost.Client.Contacts;

/// <summary>
/// The server now publishes another key for a contact than the one pinned here (<see cref="ClientErrorCodes.KeyChanged"/>),
/// or another identity key (<see cref="ClientErrorCodes.IdentityKeyChanged"/>); nothing is sent until the user trusts it.
/// </summary>
public sealed class KeyChangedException : SealpostException
{
    internal KeyChangedException(ContactStatus status, string code, string message) : base(ErrorKind.KeyChanged, code, message) => Status = status;

    /// <summary>Where the contact stands now: the key pinned and the one the server shows.</summary>
    public ContactStatus Status { get; }
}
