namespace Sealpost.Client;

/// <summary>
/// The codes of the failures the SDK finds itself (<see cref="SealpostException.Code"/>); a refusal from the server
/// carries the server's own code instead (docs/api.md, docs/protocol.md). They never change meaning.
/// </summary>
public static class ClientErrorCodes
{
    // The profile and its account
    /// <summary>The profile has no account yet: register, log in or link first.</summary>
    public const string NoAccount = "no-account";

    /// <summary>The profile deleted its account; it keeps only keys and history.</summary>
    public const string AccountDeleted = "account-deleted";

    /// <summary>Register or link into a profile that already holds an account.</summary>
    public const string ProfileHasAccount = "profile-has-account";

    /// <summary>Log in to a profile that holds another account.</summary>
    public const string ProfileOfAnotherAccount = "profile-of-another-account";

    /// <summary>The profile logged in with the password but holds no key of its device (never linked), so it must not read.</summary>
    public const string NoDeviceKey = "no-device-key";

    /// <summary>The profile holds no session.</summary>
    public const string NotLoggedIn = "not-logged-in";

    /// <summary>The session expired or was ended (a password change, a logout elsewhere, a replayed refresh token).</summary>
    public const string SessionEnded = "session-ended";

    /// <summary>The messages service refused the session even with a fresh access token.</summary>
    public const string SessionRefused = "session-refused";

    // Keys
    /// <summary>A private key is needed and no passphrase was given.</summary>
    public const string NoPassphrase = "no-passphrase";

    /// <summary>A key file does not open: the passphrase is wrong, or the file was altered (the two cannot be told apart).</summary>
    public const string WrongPassphrase = "wrong-passphrase";

    /// <summary>A key file is missing, damaged, of an unknown version, or cannot be read or written.</summary>
    public const string KeyFileUnusable = "key-file-unusable";

    /// <summary>The profile holds no private key with the id needed.</summary>
    public const string NoPrivateKey = "no-private-key";

    /// <summary>The profile holds no identity key of the account (a device never linked).</summary>
    public const string NoIdentityKey = "no-identity-key";

    /// <summary>The server took a new key that could not then be stored here; it is kept under a temporary name.</summary>
    public const string KeyNotStored = "key-not-stored";

    // Contacts
    /// <summary>Not a username: 3 to 32 characters from a-z, 0-9 and '_'.</summary>
    public const string InvalidUsername = "invalid-username";

    /// <summary>There is no account of that name.</summary>
    public const string NoSuchAccount = "no-such-account";

    /// <summary>A contact's key differs from the one pinned (<see cref="Contacts.KeyChangedException"/>).</summary>
    public const string KeyChanged = "key-changed";

    /// <summary>A contact's identity key differs from the one pinned (<see cref="Contacts.KeyChangedException"/>).</summary>
    public const string IdentityKeyChanged = "identity-key-changed";

    /// <summary>
    /// The server shows no identity key (or device certificates) for a contact whose identity key is pinned here: a
    /// downgrade nothing is sealed through (<see cref="Contacts.KeyChangedException"/>).
    /// </summary>
    public const string IdentityKeyMissing = "identity-key-missing";

    /// <summary>The server shows another identity key for your own account than the one this device holds.</summary>
    public const string OwnIdentityMismatch = "own-identity-mismatch";

    /// <summary>Trust was asked for a key, and the server now shows yet another one the user has not seen.</summary>
    public const string KeyChangedAgain = "key-changed-again";

    /// <summary>The server lists a device its account's identity key did not sign: nothing is sent to that account.</summary>
    public const string DeviceNotCertified = "device-not-certified";

    /// <summary>The recipient's client has no linked devices and can verify messages from one's first device only.</summary>
    public const string LegacyRecipient = "legacy-recipient";

    /// <summary>contacts.json holds a key that is not one.</summary>
    public const string ContactsDamaged = "contacts-damaged";

    // Messages
    /// <summary>A text longer than one message carries.</summary>
    public const string MessageTooLarge = "message-too-large";

    /// <summary>A file larger than one message carries.</summary>
    public const string FileTooLarge = "file-too-large";

    /// <summary>A file name of no bytes, or of more than 255 bytes of UTF-8.</summary>
    public const string InvalidFileName = "invalid-file-name";

    /// <summary>A delivery receipt naming no client id, too many, or one too long.</summary>
    public const string InvalidReceipt = "invalid-receipt";

    /// <summary>The message socket closed for good (the client is being disposed).</summary>
    public const string ConnectionClosed = "connection-closed";

    /// <summary>The message socket failed in a way it does not recover from.</summary>
    public const string ConnectionFailed = "connection-failed";

    // The server and the way to it
    /// <summary>The message socket cannot be opened (the server is down or unreachable).</summary>
    public const string SocketUnreachable = "socket-unreachable";

    /// <summary>The server cannot be reached.</summary>
    public const string ServerUnreachable = "server-unreachable";

    /// <summary>The server did not answer in time.</summary>
    public const string ServerTimeout = "server-timeout";

    /// <summary>The server's answer is empty or not Sealpost's JSON.</summary>
    public const string BadServerAnswer = "bad-server-answer";

    /// <summary>The server answered with another account's or key's record than asked for: never pinned.</summary>
    public const string WrongRecord = "wrong-record";

    /// <summary>The server sent a public or identity key that is not one.</summary>
    public const string BadServerKey = "bad-server-key";

    /// <summary>The server's TLS certificate is not trusted.</summary>
    public const string CertificateUntrusted = "certificate-untrusted";

    /// <summary>A certificate file to trust cannot be read, or holds no certificate.</summary>
    public const string CertificateFileUnusable = "certificate-file-unusable";

    /// <summary>Plain http to a server not on this machine: passwords and tokens would cross the network in clear.</summary>
    public const string PlainHttp = "plain-http";

    // Linking a device
    /// <summary>A link code of a version this SDK does not link with (version 1 named no account).</summary>
    public const string InvalidLinkCode = "invalid-link-code";

    /// <summary>A link code with a character changed, dropped or added: its check does not match, or it does not read at all.</summary>
    public const string LinkCodeMistyped = "link-code-mistyped";

    /// <summary>The link code is for joining another account than the one this profile holds.</summary>
    public const string LinkForAnotherAccount = "link-for-another-account";

    /// <summary>The server offers the new device an id the account already uses (or one below it): never certified.</summary>
    public const string LinkDeviceIdTaken = "link-device-id-taken";

    /// <summary>The server's copy of the new device's key does not match the link code.</summary>
    public const string LinkKeyMismatch = "link-key-mismatch";

    /// <summary>The server's answer to an approved link lacks a part.</summary>
    public const string LinkAnswerIncomplete = "link-answer-incomplete";

    /// <summary>The link secret does not open, or does not certify this device's key for the account named.</summary>
    public const string LinkSecretInvalid = "link-secret-invalid";

    // The profile's files
    /// <summary>A profile name outside 1 to 64 of a-z, 0-9, '_', '-' and '.'.</summary>
    public const string InvalidProfileName = "invalid-profile-name";

    /// <summary>A file of the profile cannot be read.</summary>
    public const string FileUnreadable = "file-unreadable";

    /// <summary>A file of the profile is not the JSON expected.</summary>
    public const string FileDamaged = "file-damaged";

    /// <summary>A file of the profile cannot be written.</summary>
    public const string FileUnwritable = "file-unwritable";

    /// <summary>Another process has held the profile's lock for 30 s.</summary>
    public const string ProfileLocked = "profile-locked";
}
