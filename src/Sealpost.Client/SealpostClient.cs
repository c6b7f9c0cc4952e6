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
public sealed partial class SealpostClient : IAsyncDisposable
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

    /// <summary>
    /// The fingerprint contacts compare for this account: its identity key's once it has one (docs/devices.md), else its
    /// key's. Null before register/login.
    /// </summary>
    public string? OwnFingerprint => Account is not { } account ? null
        : OwnIdentity(account) is { } identity ? Fingerprint.Of(identity)
        : Keys.Has(account.KeyId) ? Fingerprint.Of(Keys.PublicKeyOf(account.KeyId)) : null;

    /// <summary>This profile's account, or null before register/login.</summary>
    public AccountState? Account => Profile.ReadAccount();

    /// <summary>Reconnects and other things a person may want to know; never secrets or message text.</summary>
    public event Action<string>? Notice;

    /// <summary>
    /// Creates a key pair here, saves the private key under the passphrase, registers only the public key (as device 1,
    /// named <paramref name="deviceName"/>), logs in, then makes and publishes the account's identity key.
    /// </summary>
    public async Task<OwnAccount> RegisterAsync(string username, string password, string? displayName, CancellationToken ct, string? deviceName = null)
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
                own = await Users.RegisterAsync(name, password, AccountRules.EncodePublicKey(pair.PublicKey), displayName, ct, deviceName).ConfigureAwait(false);
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
        await EnsureIdentityAsync(password, ct).ConfigureAwait(false);
        return own;
    }

    /// <summary>Logs in and stores the session. A profile holds one account: logging in as another needs another profile.</summary>
    public async Task<OwnAccount> LoginAsync(string username, string password, CancellationToken ct)
    {
        var name = ContactBook.Normalize(username);
        if (Account is { } existing && existing.Username != name)
            throw new SealpostException(ErrorKind.Invalid, $"Profile '{Profile.Name}' belongs to {existing.Username}; use another --profile for {name}.");
        var session = await Users.LoginAsync(name, password, ct, Account?.DeviceId).ConfigureAwait(false);
        Profile.EnsureExists();
        Session.Save(session, name);
        var me = await Users.GetMeAsync(session.AccessToken, ct).ConfigureAwait(false);
        var account = Account ?? new AccountState { Username = me.Username, KeyId = (uint)me.KeyId };
        account.Server = _http.BaseAddress!.AbsoluteUri;
        SaveAccount(account);
        await EnsureIdentityAsync(password, ct).ConfigureAwait(false);
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
        Session.Save(await Users.LoginAsync(account.Username, newPassword, ct, account.DeviceId).ConfigureAwait(false), account.Username);
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
        // Between accounts with identity keys the number comes from those, so it stays as devices come, go and rotate.
        if (OwnIdentity(account) is { } ownIdentity && status.IdentityKey is { } theirs)
        {
            byte[] Identity(string encoded) => AccountRules.ParseBase64Url(encoded, IdentityKey.PublicKeySize)!;
            return new SafetyNumberInfo(status, Fingerprint.Of(ownIdentity),
                Fingerprint.SafetyNumber(account.Username, ownIdentity, status.Username, Identity(theirs)),
                status.PendingIdentityKey is { } next ? Fingerprint.SafetyNumber(account.Username, ownIdentity, status.Username, Identity(next)) : null);
        }
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
        var name = ContactBook.Normalize(to);
        var plaintext = payload.Encode();
        var connection = await ConnectAsync(ct).ConfigureAwait(false);
        var clientId = Guid.CreateVersion7();
        AcceptedFrame accepted;
        uint recipientKeyId;
        for (var attempt = 1; ; attempt++)
        {
            // Sealed again after stale_devices: the device lists are fetched (and verified) anew each time.
            (var frame, recipientKeyId) = await SealAsync(account, name, clientId, plaintext, ct).ConfigureAwait(false);
            try
            {
                accepted = await connection.SendAsync(frame, ct).ConfigureAwait(false);
                break;
            }
            catch (SealpostException e) when (e.Code == ErrorCodes.StaleDevices && attempt < StaleDeviceRetries)
            {
                // The users service and the messages service learn of a change a moment apart: a short wait lets them agree.
                Notice?.Invoke($"The devices of {name} or of your account changed while sending; sealing again for the current ones.");
                await Task.Delay(Backoff.Delay(attempt, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2)), ct).ConfigureAwait(false);
            }
        }
        await History.AddAsync(new HistoryEntry
        {
            Id = accepted.MessageId,
            ClientId = clientId.ToString(),
            Direction = MessageDirections.Out,
            Peer = name,
            Text = payload.Text,
            FileName = payload.FileName,
            FileSize = payload.FileData?.Length,
            SentAt = accepted.SentAt,
            StoredAt = Now,
            Status = MessageStatus.Sent,
            SenderKeyId = account.KeyId,
            RecipientKeyId = recipientKeyId,
        }, ct).ConfigureAwait(false);
        return new SentMessage(clientId.ToString(), accepted.MessageId, name, accepted.SentAt);
    }

    private const int StaleDeviceRetries = 5;

    /// <summary>
    /// One envelope per device of the recipient, each verified under the identity key pinned for them, and a copy for
    /// each of my other devices (docs/devices.md, "Sending"). An account without an identity key (from before linked
    /// devices) gets one envelope v1 to its trusted key. Returns the frame and the key id of the recipient's first device.
    /// </summary>
    private async Task<(SendFrame Frame, uint RecipientKeyId)> SealAsync(AccountState account, string to, Guid clientId, byte[] plaintext, CancellationToken ct)
    {
        var me = Keys.Get(account.KeyId);
        var ownIdentity = OwnIdentity(account);
        var toSelf = to == account.Username;
        var recipients = await Contacts.RequireDevicesAsync(to, toSelf ? ownIdentity : null, ct).ConfigureAwait(false);
        IReadOnlyList<TrustedDevice> others = ownIdentity is null || toSelf ? []
            : [.. (await Contacts.RequireDevicesAsync(account.Username, ownIdentity, ct).ConfigureAwait(false))!.Where(d => d.DeviceId != account.DeviceId)];
        var sentAt = Now;
        var sender = new DeviceSender(account.Username, account.DeviceId, account.KeyId, me.PrivateKey.ToArray());
        // v2 between accounts with identity keys; v1 when either has none (it opens with the keys pinned as before).
        string Seal(string username, TrustedDevice device, ContentType type, bool v2) => Convert.ToBase64String(v2
            ? EnvelopeV2.Seal(sender, new DeviceRecipient(username, device.DeviceId, device.KeyId, device.PublicKey),
                new SealedContent(type, clientId, sentAt, type == ContentType.SentCopy ? to : null, plaintext))
            : Envelope.Seal(new EnvelopeParty(account.Username, account.KeyId, me.PrivateKey.ToArray()), new EnvelopeRecipient(username, device.KeyId, device.PublicKey), plaintext));

        var v2 = ownIdentity is not null && recipients is not null;
        if (recipients is null)
        {
            // Such a recipient verifies a v1 envelope with the account's key by key id, which names device 1's keys only.
            if (account.DeviceId != 1)
                throw new SealpostException(ErrorKind.Refused,
                    $"{to} uses a client without linked devices (their account has no identity key), which can verify messages from your first device only; send from that device, or ask {to} to update.");
            var trusted = await Contacts.RequireTrustedAsync(to, ct).ConfigureAwait(false);
            recipients = [new TrustedDevice(1, trusted.TrustedKeyId, trusted.TrustedKey)];
        }
        List<DeviceEnvelope> envelopes = [.. recipients.Select(d => new DeviceEnvelope((int)d.DeviceId, Seal(to, d, ContentType.Message, v2)))];
        List<DeviceEnvelope> copies = [.. others.Select(d => new DeviceEnvelope((int)d.DeviceId, Seal(account.Username, d, ContentType.SentCopy, v2: true)))];
        var frame = envelopes is [{ Device: 1 } only] && copies.Count == 0
            ? new SendFrame(FrameTypes.Send, clientId.ToString(), to, only.Body)
            : new SendFrame(FrameTypes.Send, clientId.ToString(), to, null, envelopes, copies.Count > 0 ? copies : null);
        return (frame, recipients[0].KeyId);
    }

    /// <summary>
    /// Incoming messages as they arrive, each already stored in history and then acknowledged. Duplicates (at-least-once
    /// delivery) are acknowledged and skipped. Ends when <paramref name="ct"/> is cancelled.
    /// </summary>
    public async IAsyncEnumerable<HistoryEntry> ReceiveAsync([EnumeratorCancellation] CancellationToken ct)
    {
        RequireOwnKeys();
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
        RequireOwnKeys();
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
            // Once the account has an identity key, the new key comes with its certificate, for this device and the next key id.
            var certificate = account.IdentityKey is null ? null : AccountRules.EncodePublicKey(DeviceCertificate.Sign(
                Keys.Identity(), new DeviceKey(account.Username, account.DeviceId, account.KeyId + 1, pair.PublicKey.ToArray())));
            own = await Users.RotateKeyAsync(token.Value, AccountRules.EncodePublicKey(pair.PublicKey), password, ct, certificate).ConfigureAwait(false);
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
        if (envelope is [(byte)'S', (byte)'P', (byte)'E', EnvelopeV2.Version, ..]) return await OpenV2Async(frame, from, envelope, entry, Reject, ct).ConfigureAwait(false);
        if (frame.FromDevice is { } device && device != 1) return Reject($"It claims to come from {from}'s device {device} but is an envelope v1, which only device 1 sends.");
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
        entry.Status = sender.Trusted ? MessageStatus.Ok : MessageStatus.UnverifiedKey;
        entry.Problem = sender.Note;
        return WithPayload(entry, plaintext, Reject);
    }

    /// <summary>What an opened message holds, in its entry: a text or a file, or a receipt (never kept); unreadable is rejected.</summary>
    private static HistoryEntry WithPayload(HistoryEntry entry, byte[] plaintext, Func<string, HistoryEntry> reject)
    {
        if (MessagePayload.Decode(plaintext, out var unreadable) is not { } payload) return reject(unreadable!);
        if (payload.DeliveredClientIds is not null)
        {
            entry.Status = MessageStatus.Receipt;
            return entry;
        }
        entry.Text = payload.Text;
        entry.FileName = payload.FileName;
        entry.FileData = payload.FileData;
        entry.FileSize = payload.FileData?.Length;
        return entry;
    }

    /// <summary>
    /// Opens an envelope v2 (docs/devices.md): sealed to this device, from the device the server names, whose key's
    /// certificate verifies under the sender's identity key. The sealed message id is the message's identity from here
    /// on (so a replay under a new server id is a duplicate); a sent copy from another device of mine becomes an outgoing
    /// entry for the original recipient.
    /// </summary>
    private async Task<HistoryEntry> OpenV2Async(MessageFrame frame, string from, byte[] envelope, HistoryEntry entry, Func<string, HistoryEntry> reject, CancellationToken ct)
    {
        var account = RequireAccount();
        EnvelopeV2Header header;
        try
        {
            header = EnvelopeV2.ReadHeader(envelope);
        }
        catch (CryptoException e)
        {
            return reject(e.Message);
        }
        entry.SenderKeyId = header.SenderKeyId;
        entry.RecipientKeyId = header.RecipientKeyId;
        entry.FromDevice = header.SenderDeviceId;
        var claimed = (uint)(frame.FromDevice ?? 1);
        if (header.SenderDeviceId != claimed) return reject($"The server says it came from {from}'s device {claimed}; the envelope says device {header.SenderDeviceId}.");
        if (header.RecipientDeviceId != account.DeviceId) return reject($"It was sealed to your device {header.RecipientDeviceId}; this is device {account.DeviceId}.");
        if (!Keys.Has(header.RecipientKeyId)) return reject($"It was sealed to your key id {header.RecipientKeyId}, which this device does not hold.");
        var mine = Keys.Get(header.RecipientKeyId);
        var (sender, problem) = await Contacts.ResolveDeviceKeyAsync(from, header.SenderDeviceId, header.SenderKeyId, from == account.Username ? OwnIdentity(account) : null, ct)
            .ConfigureAwait(false);
        if (sender is null) return reject(problem!);
        SealedContent content;
        try
        {
            content = EnvelopeV2.Open(envelope, account.Username, account.DeviceId, header.RecipientKeyId, mine.PrivateKey, from, header.SenderDeviceId, sender.PublicKey);
        }
        catch (CryptoException e)
        {
            return reject($"It does not open as a message from {from}'s device {header.SenderDeviceId}: {e.Message}");
        }
        entry.ClientId = content.MessageId.ToString();
        entry.Status = sender.Trusted ? MessageStatus.Ok : MessageStatus.UnverifiedKey;
        entry.Problem = sender.Note;
        if (content.Type == ContentType.SentCopy)
        {
            if (from != account.Username || content.OriginalRecipient is null) return reject("A copy of a sent message that is not from another device of yours.");
            entry.Direction = MessageDirections.Out;
            entry.Peer = content.OriginalRecipient;
            entry.Status = MessageStatus.Sent;
        }
        else if (content.Type != ContentType.Message)
        {
            entry.Problem = $"A message this version of Sealpost cannot show (content type {(byte)content.Type}); update Sealpost to read it.";
            return entry;
        }
        return WithPayload(entry, content.Body, reject);
    }

    /// <summary>
    /// A profile that logged in with the password but holds no key of its device (a machine never linked) must not
    /// read: every message would be rejected and acknowledged here, and so taken from the device that can open it.
    /// </summary>
    private void RequireOwnKeys()
    {
        var account = RequireAccount();
        if (Keys.KeyIds().Count == 0)
            throw new SealpostException(ErrorKind.Crypto,
                $"Profile '{Profile.Name}' holds no key of {account.Username}'s device {account.DeviceId}, so it cannot read messages, and reading " +
                $"here would take them from the device that can. Link this machine instead: 'sealpost link' here, then 'sealpost link accept <code>' on a device of {account.Username}.");
    }

    private static byte[]? OwnIdentity(AccountState account) =>
        account.IdentityKey is null ? null : AccountRules.ParseBase64Url(account.IdentityKey, IdentityKey.PublicKeySize);

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
