using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Sealpost.Client.Accounts;
using Sealpost.Client.Contacts;
using Sealpost.Client.Storage;
using Sealpost.Protocol;

namespace Sealpost.Client.Messaging;

/// <summary>
/// Sending and receiving: each message sealed here to every device of the recipient, each one received opened and
/// verified here, stored in this device's history, then acknowledged. The socket opens on first use and stays for the
/// life of the client, reconnecting by itself.
/// </summary>
public sealed class MessageClient
{
    /// <summary>How often a send refused with <c>stale_devices</c> is sealed again for the devices the server now lists.</summary>
    private const int StaleDeviceRetries = 5;

    /// <summary>How long the first answer of the server may take before an inbox fetch counts the mailbox as empty.</summary>
    private static readonly TimeSpan FirstAnswer = TimeSpan.FromSeconds(15);

    private readonly Uri _server;
    private readonly ProfileFolder _profile;
    private readonly ProfileAccount _account;
    private readonly KeyRing _keys;
    private readonly SessionKeeper _session;
    private readonly ConnectionOptions _options;
    private readonly TimeProvider _time;
    private readonly Sealer _sealer;
    private readonly Opener _opener;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private MessageConnection? _connection;

    internal MessageClient(Uri server, ProfileFolder profile, ProfileAccount account, KeyRing keys, ContactBook contacts, SessionKeeper session,
        ConnectionOptions options, TimeProvider time)
    {
        _server = server;
        _profile = profile;
        _account = account;
        _keys = keys;
        _session = session;
        _options = options;
        _time = time;
        History = new MessageHistory(profile);
        _sealer = new Sealer(keys, contacts, time);
        _opener = new Opener(account, keys, contacts, time);
    }

    internal MessageHistory History { get; }

    /// <summary>Where the socket stands; <see cref="ConnectionState.Disconnected"/> until it is first needed.</summary>
    public ConnectionState State => _connection?.State ?? ConnectionState.Disconnected;

    /// <summary>The socket is down and will be opened again, on its own; sends wait for it.</summary>
    public event Action<ConnectionLost>? Reconnecting;

    /// <summary>The socket is open again; sends still waiting for an answer go out again on it.</summary>
    public event Action? Reconnected;

    /// <summary>The socket closed for good: null when the client was disposed, else the failure it does not recover from.</summary>
    public event Action<Exception?>? Closed;

    /// <summary>Things a person may want to know though nothing failed (<see cref="MessagingWarning"/>); never secrets or message text.</summary>
    public event Action<MessagingWarning>? Warning;

    /// <summary>The most file bytes one message carries when the file's name takes <paramref name="nameBytes"/> bytes of UTF-8.</summary>
    public static int MaxFileSize(int nameBytes) => MessagePayload.MaxFileSize(nameBytes);

    /// <summary>
    /// Seals <paramref name="text"/> to every device of the contact (refusing a changed key with <see cref="KeyChangedException"/>),
    /// sends it and waits until the server has it durably. Across a reconnect it is sent again under the same client id.
    /// </summary>
    public Task<SentMessage> SendAsync(string to, string text, CancellationToken ct) => SendAsync(to, MessagePayload.ForText(text), ct);

    /// <summary>Sends a file (its name and bytes) in one message, of at most <see cref="MaxFileSize"/> bytes.</summary>
    public Task<SentMessage> SendFileAsync(string to, string name, byte[] data, CancellationToken ct) => SendAsync(to, MessagePayload.ForFile(name, data), ct);

    /// <summary>
    /// Incoming messages as they arrive, each already stored in history and then acknowledged. Duplicates (at-least-once
    /// delivery) are acknowledged and skipped. Ends when <paramref name="ct"/> is cancelled.
    /// </summary>
    public async IAsyncEnumerable<Message> ReceiveAsync([EnumeratorCancellation] CancellationToken ct)
    {
        RequireOwnKeys();
        var connection = await ConnectedAsync(ct).ConfigureAwait(false);
        while (true)
        {
            MessageFrame frame;
            try
            {
                frame = await connection.Incoming.ReadAsync(ct).ConfigureAwait(false);
            }
            catch (ChannelClosedException e)
            {
                throw e.InnerException ?? new SealpostException(ErrorKind.Network, ClientErrorCodes.ConnectionClosed, "The message connection closed.", e);
            }
            if (ReferenceEquals(frame, MessageConnection.SyncedMarker)) continue;
            if (await TryProcessAsync(frame, connection, ct).ConfigureAwait(false) is { } message) yield return message;
        }
    }

    /// <summary>
    /// Collects what waits in the mailbox: reads until the server says it is drained (<c>synced</c>), or, from a server
    /// that does not say so, until no message has come for <paramref name="quiet"/>.
    /// </summary>
    public async Task<IReadOnlyList<Message>> FetchInboxAsync(TimeSpan quiet, CancellationToken ct)
    {
        RequireOwnKeys();
        var connection = await ConnectedAsync(ct).ConfigureAwait(false);
        var received = new List<Message>();
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
                throw e.InnerException ?? new SealpostException(ErrorKind.Network, ClientErrorCodes.ConnectionClosed, "The message connection closed.", e);
            }
            if (ReferenceEquals(frame, MessageConnection.SyncedMarker)) return received;
            if (await TryProcessAsync(frame, connection, ct).ConfigureAwait(false) is { } message) received.Add(message);
        }
    }

    /// <summary>Opens the socket now rather than on first use (a client that wants to show it is online).</summary>
    public async Task ConnectAsync(CancellationToken ct) => await ConnectedAsync(ct).ConfigureAwait(false);

    internal async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync().ConfigureAwait(false);
        _connecting.Dispose();
    }

    private async Task<SentMessage> SendAsync(string to, MessagePayload payload, CancellationToken ct)
    {
        var account = _account.Require();
        var name = ContactBook.Normalize(to);
        var plaintext = payload.Encode();
        var connection = await ConnectedAsync(ct).ConfigureAwait(false);
        var clientId = Guid.CreateVersion7();
        AcceptedFrame accepted;
        uint recipientKeyId;
        for (var attempt = 1; ; attempt++)
        {
            // Sealed again after stale_devices: the device lists are fetched (and verified) anew each time.
            (var frame, recipientKeyId) = await _sealer.SealAsync(account, name, clientId, plaintext, ct).ConfigureAwait(false);
            try
            {
                accepted = await connection.SendAsync(frame, ct).ConfigureAwait(false);
                break;
            }
            catch (SealpostException e) when (e.Code == ErrorCodes.StaleDevices && attempt < StaleDeviceRetries)
            {
                // The users service and the messages service learn of a change a moment apart: a short wait lets them agree.
                Warning?.Invoke(new MessagingWarning.SendRetrying(name, ErrorCodes.StaleDevices));
                await Task.Delay(Backoff.Delay(attempt, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2)), ct).ConfigureAwait(false);
            }
        }
        await History.AddAsync(new HistoryEntry
        {
            Id = accepted.MessageId,
            ClientId = clientId.ToString(),
            Direction = HistoryDirections.Out,
            Peer = name,
            Text = payload.Text,
            FileName = payload.FileName,
            FileSize = payload.FileData?.Length,
            SentAt = accepted.SentAt,
            StoredAt = _time.GetUtcNow(),
            Status = HistoryStatus.Sent,
            SenderKeyId = account.KeyId,
            RecipientKeyId = recipientKeyId,
        }, ct).ConfigureAwait(false);
        return new SentMessage(clientId.ToString(), accepted.MessageId, name, accepted.SentAt);
    }

    /// <summary>
    /// Like <see cref="ProcessAsync"/>, but a network failure (fetching the sender's key) skips the message without
    /// acknowledging it: it stays on the server and comes again on the next connection, and the stream goes on.
    /// </summary>
    private async Task<Message?> TryProcessAsync(MessageFrame frame, MessageConnection connection, CancellationToken ct)
    {
        try
        {
            return await ProcessAsync(frame, connection, ct).ConfigureAwait(false);
        }
        catch (SealpostException e) when (e.Kind == ErrorKind.Network)
        {
            Warning?.Invoke(new MessagingWarning.MessageDeferred(frame.MessageId, frame.From, e));
            return null;
        }
    }

    /// <summary>Stores (or recognises) one delivered message, then acknowledges it. Null for a duplicate or a receipt.</summary>
    internal async Task<Message?> ProcessAsync(MessageFrame frame, MessageConnection connection, CancellationToken ct)
    {
        if (History.ContainsIncoming(frame.MessageId, frame.From, frame.ClientId))
        {
            await connection.AckAsync(frame.MessageId, ct).ConfigureAwait(false);
            return null;
        }
        var entry = await _opener.OpenAsync(frame, ct).ConfigureAwait(false);
        if (entry.Status == HistoryStatus.Receipt)
        {
            // The web client says it stored messages of ours: nothing to keep or show (a redelivery is as harmless).
            await connection.AckAsync(frame.MessageId, ct).ConfigureAwait(false);
            return null;
        }
        // Stored before the ack: a crash in between means a redelivery, which the check above recognises.
        var added = await History.AddAsync(entry, ct).ConfigureAwait(false);
        await connection.AckAsync(frame.MessageId, ct).ConfigureAwait(false);
        // Not the same delivery again (that is recognised above by the server's ids), yet its sealed id is known: the
        // server delivered an old envelope again under new ids (security review M6).
        if (!added && entry.Status != HistoryStatus.Rejected && entry.FromDevice is not null)
            Warning?.Invoke(new MessagingWarning.Replayed(frame.MessageId, frame.From, entry.ClientId!));
        return added ? Message.Of(entry) : null;
    }

    /// <summary>
    /// A profile that logged in with the password but holds no key of its device (a machine never linked) must not
    /// read: every message would be rejected and acknowledged here, and so taken from the device that can open it.
    /// </summary>
    private void RequireOwnKeys()
    {
        var account = _account.Require();
        if (_keys.KeyIds().Count == 0)
            throw new ProfileException(ErrorKind.Crypto, ClientErrorCodes.NoDeviceKey, _profile.Name, LocalAccount.Of(account),
                $"Profile '{_profile.Name}' holds no key of {account.Username}'s device {account.DeviceId}, so it cannot read messages, and reading " +
                "here would take them from the device that can: link this device from one of the account's.");
    }

    /// <summary>The socket, connected on first use and kept for the life of the client.</summary>
    private async Task<MessageConnection> ConnectedAsync(CancellationToken ct)
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
        _account.Require();
        var connection = new MessageConnection(_server, _session.GetAsync, _options);
        connection.Reconnecting += lost => Reconnecting?.Invoke(lost);
        connection.Reconnected += () => Reconnected?.Invoke();
        connection.Closed += failure => Closed?.Invoke(failure);
        connection.Warning += warning => Warning?.Invoke(warning);
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
}
