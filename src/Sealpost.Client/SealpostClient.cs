using Sealpost.Client.Accounts;
using Sealpost.Client.Contacts;
using Sealpost.Client.Devices;
using Sealpost.Client.Messaging;
using Sealpost.Client.Storage;

namespace Sealpost.Client;

/// <summary>
/// One user's Sealpost client, for one profile: it hands out <see cref="Accounts"/>, <see cref="Devices"/>,
/// <see cref="Contacts"/> and <see cref="Messages"/>. All encryption happens in them; the servers see only public keys
/// and envelopes.
/// </summary>
public sealed class SealpostClient : IAsyncDisposable
{
    private readonly HttpClient _http;

    public SealpostClient(SealpostClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        ServerTransport.EnsureSafe(options.Server);
        var server = options.Server.AbsoluteUri.EndsWith('/') ? options.Server : new Uri(options.Server.AbsoluteUri + "/");
        var certificateCheck = options.CertificateFile is { } file ? ServerTransport.TrustOnly(file) : null;
        var connection = options.Connection ?? new ConnectionOptions();
        _http = options.HttpHandler is not null ? new HttpClient(options.HttpHandler, disposeHandler: false)
            : certificateCheck is not null ? new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = certificateCheck } })
            : new HttpClient();
        _http.BaseAddress = server;
        _http.Timeout = TimeSpan.FromSeconds(30);

        var time = options.Time ?? TimeProvider.System;
        var passphrase = new Lazy<string>(() => options.Passphrase?.Invoke()
            ?? throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.NoPassphrase, "A passphrase is needed to use the private key, and none was given."));
        var profile = options.Profile;
        var account = new ProfileAccount(profile);
        var keys = new KeyRing(profile, () => passphrase.Value);
        var users = new UsersApiClient(_http);
        var session = new SessionKeeper(profile, users, time);
        var contacts = new ContactBook(profile, users, time);
        Accounts = new AccountClient(server, profile, account, keys, users, session, time);
        Devices = new DeviceClient(server, profile, account, keys, users, session, time);
        Contacts = new ContactClient(contacts, account, keys);
        Messages = new MessageClient(server, profile, account, keys, contacts, session,
            connection with { CertificateCheck = certificateCheck ?? connection.CertificateCheck }, time);
    }

    /// <summary>What this client was made with.</summary>
    public SealpostClientOptions Options { get; }

    /// <summary>Register, log in and out, change the password, delete the account, rotate this device's key.</summary>
    public AccountClient Accounts { get; }

    /// <summary>List, rename and remove this account's devices, and link a new one.</summary>
    public DeviceClient Devices { get; }

    /// <summary>Look up contacts, trust their keys, compare safety numbers.</summary>
    public ContactClient Contacts { get; }

    /// <summary>Send and receive, and the connection that carries them.</summary>
    public MessageClient Messages { get; }

    public async ValueTask DisposeAsync()
    {
        await Messages.DisposeAsync().ConfigureAwait(false);
        _http.Dispose();
    }
}
