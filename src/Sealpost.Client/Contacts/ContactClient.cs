using Sealpost.Client.Storage;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Contacts;

/// <summary>
/// The people this profile writes to: their keys, pinned on first use and compared on every lookup, trusted again when
/// they change, and the safety numbers two people compare to know nobody sits between them.
/// </summary>
public sealed class ContactClient
{
    private readonly ProfileAccount _account;
    private readonly KeyRing _keys;

    internal ContactClient(ContactBook book, ProfileAccount account, KeyRing keys)
    {
        Book = book;
        _account = account;
        _keys = keys;
    }

    internal ContactBook Book { get; }

    /// <summary>The username as the server compares it (lower case), or an <see cref="ErrorKind.Invalid"/> error naming the rule.</summary>
    public static string Normalize(string username) => ContactBook.Normalize(username);

    /// <summary>The contact's current record compared with the pin; pins on first use. A changed key is reported, not thrown.</summary>
    public Task<ContactStatus> LookupAsync(string username, CancellationToken ct) => Book.LookupAsync(username, ct);

    /// <summary>Accepts the contact's current key (after the user compared fingerprints) and marks it verified.</summary>
    public Task<ContactStatus> TrustAsync(string username, CancellationToken ct) => Book.TrustAsync(username, ct);

    /// <summary>The contact's fingerprint and the safety number between your current key and theirs (and theirs-to-be, if it changed).</summary>
    public async Task<SafetyNumberInfo> SafetyNumberAsync(string username, CancellationToken ct)
    {
        var account = _account.Require();
        var status = await Book.LookupAsync(username, ct).ConfigureAwait(false);
        // Between accounts with identity keys the number comes from those, so it stays as devices come, go and rotate.
        if (ProfileAccount.IdentityOf(account) is { } ownIdentity && status.IdentityKey is { } theirs)
        {
            byte[] Identity(string encoded) => AccountRules.ParseBase64Url(encoded, IdentityKey.PublicKeySize)!;
            return new SafetyNumberInfo(status, Fingerprint.Of(ownIdentity),
                Fingerprint.SafetyNumber(account.Username, ownIdentity, status.Username, Identity(theirs)),
                status.PendingIdentityKey is { } next ? Fingerprint.SafetyNumber(account.Username, ownIdentity, status.Username, Identity(next)) : null);
        }
        var own = _keys.PublicKeyOf(account.KeyId);
        // A contact pinned without an identity that shows a first one: the number to compare is the identities' one.
        var pending = status.PendingIdentityKey is { } first && ProfileAccount.IdentityOf(account) is { } mine
            ? Fingerprint.SafetyNumber(account.Username, mine, status.Username, AccountRules.ParseBase64Url(first, IdentityKey.PublicKeySize)!)
            : status.Pending is { } p ? Fingerprint.SafetyNumber(account.Username, own, status.Username, KeyInfo.Decode(p.PublicKey)) : null;
        return new SafetyNumberInfo(status, Fingerprint.Of(own), Fingerprint.SafetyNumber(account.Username, own, status.Username, status.TrustedKey), pending);
    }
}
