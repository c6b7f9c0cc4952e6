using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Sealpost.Client.Accounts;
using Sealpost.Client.Contacts;
using Sealpost.Client.History;
using Sealpost.Client.Keys;
using Sealpost.Client.Messaging;
using Sealpost.Client.State;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client;

public sealed record SealpostClientOptions
{
    /// <summary>Base address of the server (HAProxy), e.g. <c>http://127.0.0.1:8080</c>; REST and the socket share it.</summary>
    public required Uri Server { get; init; }

    public required ProfileFolder Profile { get; init; }

    /// <summary>Asked for the key-file passphrase only when a private key is needed, and at most once.</summary>
    public Func<string>? Passphrase { get; init; }

    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>A PEM certificate the server's must be or chain to, instead of the system's authorities (a server's own certificate).</summary>
    public string? CertificateFile { get; init; }

    public ConnectionOptions? Connection { get; init; }
    public TimeProvider? Time { get; init; }
}

/// <summary>What a safety-number check shows: the contact, your own fingerprint, and the number you both should see.</summary>
public sealed record SafetyNumberInfo(ContactStatus Contact, string OwnFingerprint, string SafetyNumber, string? PendingSafetyNumber);

public sealed record SentMessage(string ClientId, string MessageId, string To, DateTimeOffset SentAt);

/// <summary>
/// One user's Sealpost client: account and session, own keys, pinned contacts, local history, and the message socket.
/// All encryption happens here; the servers see only public keys and envelopes.
/// </summary>
public sealed class SealpostClient : IAsyncDisposable
{
    private readonly SealpostClientOptions _options;
    private readonly HttpClient _http;
    private readonly Lazy<string> _passphrase;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private MessageConnection? _connection;
    private readonly ConnectionOptions _connectionOptions;

    public SealpostClient(SealpostClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        ServerTransport.EnsureSafe(options.Server);
        var server = options.Server.AbsoluteUri.EndsWith('/') ? options.Server : new Uri(options.Server.AbsoluteUri + "/");
        var certificateCheck = options.CertificateFile is { } file ? ServerTransport.TrustOnly(file) : null;
        var connection = options.Connection ?? new ConnectionOptions();
        _connectionOptions = connection with { CertificateCheck = certificateCheck ?? connection.CertificateCheck };
        _http = options.HttpHandler is not null ? new HttpClient(options.HttpHandler, disposeHandler: false)
            : certificateCheck is not null ? new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = certificateCheck } })
            : new HttpClient();
        _http.BaseAddress = server;
        _http.Timeout = TimeSpan.FromSeconds(30);
        _passphrase = new Lazy<string>(() => options.Passphrase?.Invoke()
            ?? throw new SealpostException(ErrorKind.Invalid, "A passphrase is needed to use the private key, and none was given."));
        Profile = options.Profile;
        Users = new UsersApiClient(_http);
        Session = new SessionKeeper(Profile, Users, options.Time);
        Contacts = new ContactBook(Profile, Users, options.Time);
        History = new MessageHistory(Profile);
        Keys = new KeyRing(Profile, () => _passphrase.Value);
    }

    public ProfileFolder Profile { get; }
    public UsersApiClient Users { get; }
    public SessionKeeper Session { get; }
    public ContactBook Contacts { get; }
    public MessageHistory History { get; }
    public KeyRing Keys { get; }

    /// <summary>This profile's account, or null before register/login.</summary>
    public AccountState? Account => Profile.ReadAccount();

    /// <summary>Reconnects and other things a person may want to know; never secrets or message text.</summary>
    public event Action<string>? Notice;

    /// <summary>Creates a key pair here, saves the private key under the passphrase, registers only the public key, then logs in.</summary>
    public async Task<OwnAccount> RegisterAsync(string username, string password, string? displayName, CancellationToken ct)
    {
        var name = ContactBook.Normalize(username);
        if (Account is { } existing)
            throw new SealpostException(ErrorKind.Invalid, $"Profile '{Profile.Name}' already holds the account {existing.Username}; use another --profile.");
        var newProfile = !Directory.Exists(Profile.Root);
        Profile.EnsureExists();
        var pair = X25519KeyPair.Generate();
        OwnAccount own;
        string temporary;
        try
        {
            temporary = Keys.SaveNew(name, pair);
            try
            {
                own = await Users.RegisterAsync(name, password, AccountRules.EncodePublicKey(pair.PublicKey), displayName, ct).ConfigureAwait(false);
            }
            catch
            {
                ProfileFolder.TryDelete(temporary);
                throw;
            }
        }
        catch when (newProfile)
        {
            // A failed registration leaves no empty profile behind to be mistaken for one that holds something.
            ProfileFolder.TryDeleteFolder(Profile.Root);
            throw;
        }
        Keys.Commit(temporary, (uint)own.KeyId, pair);
        SaveAccount(new AccountState { Server = _http.BaseAddress!.AbsoluteUri, Username = own.Username, KeyId = (uint)own.KeyId });
        Session.Save(await Users.LoginAsync(name, password, ct).ConfigureAwait(false), own.Username);
        return own;
    }

    /// <summary>Logs in and stores the session. A profile holds one account: logging in as another needs another profile.</summary>
    public async Task<OwnAccount> LoginAsync(string username, string password, CancellationToken ct)
    {
        var name = ContactBook.Normalize(username);
        if (Account is { } existing && existing.Username != name)
            throw new SealpostException(ErrorKind.Invalid, $"Profile '{Profile.Name}' belongs to {existing.Username}; use another --profile for {name}.");
        var session = await Users.LoginAsync(name, password, ct).ConfigureAwait(false);
        Profile.EnsureExists();
        Session.Save(session, name);
        var me = await Users.GetMeAsync(session.AccessToken, ct).ConfigureAwait(false);
        var account = Account ?? new AccountState { Username = me.Username, KeyId = (uint)me.KeyId };
        account.Server = _http.BaseAddress!.AbsoluteUri;
        SaveAccount(account);
        return me;
    }

    /// <summary>Ends the session on the server (if it still exists) and forgets the tokens here. Keys, contacts and history stay.</summary>
    public async Task LogoutAsync(CancellationToken ct)
    {
        if (Session.Current is null) return;
        try
        {
            var token = await Session.GetAsync(ct).ConfigureAwait(false);
            await Users.LogoutAsync(token.Value, ct).ConfigureAwait(false);
        }
        catch (SealpostException e) when (e.Kind == ErrorKind.Auth)
        {
            // Already over on the server side.
        }
        Session.Forget();
    }

    /// <summary>
    /// Changes the account password. The server ends every session of the account (other devices must log in again);
    /// this profile logs in again with the new password, so it stays logged in.
    /// </summary>
    public async Task ChangePasswordAsync(string currentPassword, string newPassword, CancellationToken ct)
    {
        var account = RequireAccount();
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        await Users.ChangePasswordAsync(token.Value, currentPassword, newPassword, ct).ConfigureAwait(false);
        Session.Forget();
        Session.Save(await Users.LoginAsync(account.Username, newPassword, ct).ConfigureAwait(false), account.Username);
    }

    /// <summary>
    /// Deletes the account on the server (its name stays taken for good) and forgets the session and account here.
    /// Keys, contacts and history stay in the profile folder until the user removes it.
    /// </summary>
    public async Task DeleteAccountAsync(string currentPassword, CancellationToken ct)
    {
        var account = RequireAccount();
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        await Users.DeleteAccountAsync(token.Value, currentPassword, ct).ConfigureAwait(false);
        Session.Forget();
        account.DeletedAt = Now;
        SaveAccount(account);
    }

    /// <summary>Whether the server still has a live account of this name; null when the server cannot say (unreachable).</summary>
    public async Task<bool?> AccountExistsAsync(string username, CancellationToken ct)
    {
        try
        {
            return await Users.GetAccountAsync(username, ct).ConfigureAwait(false) is not null;
        }
        catch (SealpostException)
        {
            return null;
        }
    }

    public async Task<OwnAccount> WhoAmIAsync(CancellationToken ct)
    {
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        return await Users.GetMeAsync(token.Value, ct).ConfigureAwait(false);
    }

    /// <summary>The contact's current record compared with the pin; pins on first use. A changed key is reported, not thrown.</summary>
    public Task<ContactStatus> LookupAsync(string username, CancellationToken ct) => Contacts.LookupAsync(username, ct);

    public Task<ContactStatus> TrustAsync(string username, CancellationToken ct) => Contacts.TrustAsync(username, ct);

    /// <summary>The contact's fingerprint and the safety number between your current key and theirs (and theirs-to-be, if it changed).</summary>
    public async Task<SafetyNumberInfo> SafetyNumberAsync(string username, CancellationToken ct)
    {
        var account = RequireAccount();
        var status = await Contacts.LookupAsync(username, ct).ConfigureAwait(false);
        var own = Keys.PublicKeyOf(account.KeyId);
        var pending = status.Pending is { } p
            ? Fingerprint.SafetyNumber(account.Username, own, status.Username, KeyInfo.Decode(p.PublicKey))
            : null;
        return new SafetyNumberInfo(status, Fingerprint.Of(own), Fingerprint.SafetyNumber(account.Username, own, status.Username, status.TrustedKey), pending);
    }

    /// <summary>
    /// Seals <paramref name="text"/> to the contact's trusted key (refusing a changed key with <see cref="KeyChangedException"/>),
    /// sends it and waits until the server has it durably. Across a reconnect it is sent again under the same client id.
    /// </summary>
    public Task<SentMessage> SendAsync(string to, string text, CancellationToken ct) => SendAsync(to, MessagePayload.ForText(text), ct);

    /// <summary>Sends a file (its name and bytes) in one message; see <see cref="MessagePayload"/>.</summary>
    public Task<SentMessage> SendFileAsync(string to, string name, byte[] data, CancellationToken ct) => SendAsync(to, MessagePayload.ForFile(name, data), ct);

    private async Task<SentMessage> SendAsync(string to, MessagePayload payload, CancellationToken ct)
    {
        var account = RequireAccount();
        var plaintext = payload.Encode();
        var recipient = await Contacts.RequireTrustedAsync(to, ct).ConfigureAwait(false);
        var me = Keys.Get(account.KeyId);
        var envelope = Envelope.Seal(
            new EnvelopeParty(account.Username, account.KeyId, me.PrivateKey.ToArray()),
            new EnvelopeRecipient(recipient.Username, recipient.TrustedKeyId, recipient.TrustedKey),
            plaintext);

        var connection = await ConnectAsync(ct).ConfigureAwait(false);
        var clientId = Guid.CreateVersion7().ToString();
        var accepted = await connection.SendAsync(clientId, recipient.Username, Convert.ToBase64String(envelope), ct).ConfigureAwait(false);
        await History.AddAsync(new HistoryEntry
        {
            Id = accepted.MessageId,
            Direction = MessageDirections.Out,
            Peer = recipient.Username,
            Text = payload.Text,
            FileName = payload.FileName,
            FileSize = payload.FileData?.Length,
            SentAt = accepted.SentAt,
            StoredAt = Now,
            Status = MessageStatus.Sent,
            SenderKeyId = account.KeyId,
            RecipientKeyId = recipient.TrustedKeyId,
        }, ct).ConfigureAwait(false);
        return new SentMessage(clientId, accepted.MessageId, recipient.Username, accepted.SentAt);
    }

    /// <summary>
    /// Incoming messages as they arrive, each already stored in history and then acknowledged. Duplicates (at-least-once
    /// delivery) are acknowledged and skipped. Ends when <paramref name="ct"/> is cancelled.
    /// </summary>
    public async IAsyncEnumerable<HistoryEntry> ReceiveAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var connection = await ConnectAsync(ct).ConfigureAwait(false);
        while (true)
        {
            MessageFrame frame;
            try
            {
                frame = await connection.Incoming.ReadAsync(ct).ConfigureAwait(false);
            }
            catch (ChannelClosedException e)
            {
                throw e.InnerException ?? new SealpostException(ErrorKind.Network, "The message connection closed.", e);
            }
            if (ReferenceEquals(frame, MessageConnection.SyncedMarker)) continue;
            if (await TryProcessAsync(frame, connection, ct).ConfigureAwait(false) is { } entry) yield return entry;
        }
    }

    /// <summary>How long the first answer of the server may take before an inbox fetch counts the mailbox as empty.</summary>
    private static readonly TimeSpan FirstAnswer = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Collects what waits in the mailbox: reads until the server says it is drained (<c>synced</c>), or, from a server
    /// that does not say so, until no message has come for <paramref name="quiet"/>.
    /// </summary>
    public async Task<IReadOnlyList<HistoryEntry>> FetchInboxAsync(TimeSpan quiet, CancellationToken ct)
    {
        var connection = await ConnectAsync(ct).ConfigureAwait(false);
        var received = new List<HistoryEntry>();
        var first = true;
        while (true)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // The server's first answer (a message, or synced for an empty mailbox) may take a moment on a busy system:
            // "quiet" counts only once it has spoken, so a slow server never reads as an empty mailbox.
            idle.CancelAfter(first && quiet < FirstAnswer ? FirstAnswer : quiet);
            first = false;
            MessageFrame frame;
            try
            {
                frame = await connection.Incoming.ReadAsync(idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return received;
            }
            catch (ChannelClosedException e)
            {
                throw e.InnerException ?? new SealpostException(ErrorKind.Network, "The message connection closed.", e);
            }
            if (ReferenceEquals(frame, MessageConnection.SyncedMarker)) return received;
            if (await TryProcessAsync(frame, connection, ct).ConfigureAwait(false) is { } entry) received.Add(entry);
        }
    }

    /// <summary>
    /// A new key pair: the private key is saved (the old ones stay, so messages sealed to them still open), then the
    /// public key is published, which needs the account password. Contacts see a changed key and must trust it before
    /// sending again; the server ends the account's other sessions.
    /// </summary>
    public async Task<OwnAccount> RotateKeyAsync(string password, CancellationToken ct)
    {
        var account = RequireAccount();
        Keys.CheckPassphrase();
        var token = await Session.GetAsync(ct).ConfigureAwait(false);
        var pair = X25519KeyPair.Generate();
        var temporary = Keys.SaveNew(account.Username, pair);
        OwnAccount own;
        try
        {
            own = await Users.RotateKeyAsync(token.Value, AccountRules.EncodePublicKey(pair.PublicKey), password, ct).ConfigureAwait(false);
        }
        catch
        {
            ProfileFolder.TryDelete(temporary);
            throw;
        }
        Keys.Commit(temporary, (uint)own.KeyId, pair);
        account.KeyId = (uint)own.KeyId;
        SaveAccount(account);
        return own;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync().ConfigureAwait(false);
        _http.Dispose();
        _connecting.Dispose();
    }

    /// <summary>
    /// Like <see cref="ProcessAsync"/>, but a network failure (fetching the sender's key) skips the message without
    /// acknowledging it: it stays on the server and comes again on the next connection, and the stream goes on.
    /// </summary>
    private async Task<HistoryEntry?> TryProcessAsync(MessageFrame frame, MessageConnection connection, CancellationToken ct)
    {
        try
        {
            return await ProcessAsync(frame, connection, ct).ConfigureAwait(false);
        }
        catch (SealpostException e) when (e.Kind == ErrorKind.Network)
        {
            Notice?.Invoke($"Message {frame.MessageId} from {frame.From} cannot be checked now ({e.Message}); it stays on the server for later.");
            return null;
        }
    }

    /// <summary>Stores (or recognises) one delivered message, then acknowledges it. Null for a duplicate.</summary>
    internal async Task<HistoryEntry?> ProcessAsync(MessageFrame frame, MessageConnection connection, CancellationToken ct)
    {
        if (History.ContainsIncoming(frame.MessageId, frame.From, frame.ClientId))
        {
            await connection.AckAsync(frame.MessageId, ct).ConfigureAwait(false);
            return null;
        }
        var entry = await OpenAsync(frame, ct).ConfigureAwait(false);
        if (entry.Status == MessageStatus.Receipt)
        {
            // The web client says it stored messages of ours: nothing to keep or show (a redelivery is as harmless).
            await connection.AckAsync(frame.MessageId, ct).ConfigureAwait(false);
            return null;
        }
        // Stored before the ack: a crash in between means a redelivery, which the check above recognises.
        var added = await History.AddAsync(entry, ct).ConfigureAwait(false);
        await connection.AckAsync(frame.MessageId, ct).ConfigureAwait(false);
        return added ? entry : null;
    }

    /// <summary>
    /// Opens and verifies a delivered message. One that can never open (not an envelope, sealed to a key we do not hold,
    /// sender or key unknown, forged, altered) becomes a <see cref="MessageStatus.Rejected"/> entry rather than an error,
    /// so it is stored, acknowledged and not delivered forever. What may pass (the server unreachable while fetching a
    /// key, a wrong passphrase) throws instead, and the message stays on the server.
    /// </summary>
    internal async Task<HistoryEntry> OpenAsync(MessageFrame frame, CancellationToken ct)
    {
        var account = RequireAccount();
        var entry = new HistoryEntry
        {
            Id = frame.MessageId,
            ClientId = frame.ClientId,
            Direction = MessageDirections.In,
            Peer = frame.From,
            SentAt = frame.SentAt,
            StoredAt = Now,
        };
        HistoryEntry Reject(string why)
        {
            entry.Status = MessageStatus.Rejected;
            entry.Problem = why;
            entry.Text = null;
            entry.Envelope = frame.Body.Length <= Limits.BodyMaxBase64Chars ? frame.Body : null;
            return entry;
        }

        if (AccountRules.NormalizeUsername(frame.From) is not { } from || from != frame.From) return Reject("The sender's name is not a valid username.");
        var bytes = new byte[frame.Body.Length];
        if (!Convert.TryFromBase64String(frame.Body, bytes, out var length)) return Reject("The body is not base64.");
        var envelope = bytes.AsSpan(0, length).ToArray();
        EnvelopeHeader header;
        try
        {
            header = Envelope.ReadHeader(envelope);
        }
        catch (CryptoException e)
        {
            return Reject(e.Message);
        }
        entry.SenderKeyId = header.SenderKeyId;
        entry.RecipientKeyId = header.RecipientKeyId;
        if (!Keys.Has(header.RecipientKeyId)) return Reject($"It was sealed to your key id {header.RecipientKeyId}, which this device does not hold.");
        var mine = Keys.Get(header.RecipientKeyId);
        var sender = await Contacts.ResolveSenderKeyAsync(from, header.SenderKeyId, ct).ConfigureAwait(false);
        if (sender is null) return Reject($"{from} has no key with id {header.SenderKeyId} (or no account): the sender cannot be verified.");
        byte[] plaintext;
        try
        {
            plaintext = Envelope.Open(envelope, account.Username, header.RecipientKeyId, mine.PrivateKey, from, sender.PublicKey);
        }
        catch (CryptoException e)
        {
            return Reject($"It does not open as a message from {from}: {e.Message}");
        }
        if (MessagePayload.Decode(plaintext, out var unreadable) is not { } payload) return Reject(unreadable!);
        if (payload.DeliveredClientIds is not null)
        {
            entry.Status = MessageStatus.Receipt;
            return entry;
        }
        entry.Text = payload.Text;
        entry.FileName = payload.FileName;
        entry.FileData = payload.FileData;
        entry.FileSize = payload.FileData?.Length;
        entry.Status = sender.Trusted ? MessageStatus.Ok : MessageStatus.UnverifiedKey;
        entry.Problem = sender.Note;
        return entry;
    }

    /// <summary>The socket, connected on first use and kept for the life of the client.</summary>
    public async Task<MessageConnection> ConnectAsync(CancellationToken ct)
    {
        if (_connection is not null) return _connection;
        await _connecting.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return _connection ?? await OpenConnectionAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _connecting.Release();
        }
    }

    private async Task<MessageConnection> OpenConnectionAsync(CancellationToken ct)
    {
        RequireAccount();
        var connection = new MessageConnection(_http.BaseAddress!, (rejected, c) => Session.GetAsync(c, rejected), _connectionOptions);
        connection.Notice += m => Notice?.Invoke(m);
        try
        {
            await connection.StartAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        _connection = connection;
        return connection;
    }

    private AccountState RequireAccount()
    {
        var account = Account ?? throw new SealpostException(ErrorKind.Auth, $"Profile '{Profile.Name}' has no account yet: run 'sealpost register <username>' or 'sealpost login <username>'.");
        if (account.DeletedAt is not null) throw AccountDeleted(account, Profile.Name);
        return account;
    }

    /// <summary>What to say about a profile whose account was deleted from it.</summary>
    public static SealpostException AccountDeleted(AccountState account, string profile)
    {
        ArgumentNullException.ThrowIfNull(account);
        return new(ErrorKind.Auth, $"The account {account.Username} was deleted on {account.DeletedAt?.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)}; " +
            $"profile '{profile}' only keeps its keys and history. Register anew with another --profile.") { Code = "account-deleted" };
    }

    private void SaveAccount(AccountState account) => Profile.Write(Profile.AccountFile, account, LocalJsonContext.Default.AccountState);

    private DateTimeOffset Now => (_options.Time ?? TimeProvider.System).GetUtcNow();
}
