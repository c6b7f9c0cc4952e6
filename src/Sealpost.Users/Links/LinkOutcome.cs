namespace Sealpost.Users.Links;

/// <summary>What became of a request about a link, as the store found it under its locks.</summary>
public enum LinkOutcome
{
    Done,
    Unknown,
    Gone,
    TakenByAnotherAccount,
    NotReserved,
    TooManyDevices,
}
