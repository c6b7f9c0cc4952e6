using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace Sealpost.Messages.Tests.Hosting;

/// <summary>
/// One messages instance in this process: the real <c>Program</c> and its whole graph, on Kestrel on a free loopback
/// port, with the settings given (its mailbox database, Redis, the users service), and optionally a clock the test
/// moves (<see cref="FakeTimeProvider"/>). What one instance does is tested here; only what crosses processes (kill -9,
/// HAProxy) needs <c>ServiceProcess</c>.
/// </summary>
public sealed class MessagesHost : WebApplicationFactory<Program>
{
    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly TimeProvider? _clock;

    public MessagesHost(IReadOnlyDictionary<string, string> settings, TimeProvider? clock = null)
    {
        _settings = settings;
        _clock = clock;
        UseKestrel(0);
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
    }

    /// <summary>The instance's own address (http://127.0.0.1:port/).</summary>
    public Uri BaseAddress { get; }

    /// <summary>Its WebSocket endpoint.</summary>
    public Uri SocketUrl => new(BaseAddress.ToString().Replace("http://", "ws://", StringComparison.Ordinal) + "v1/ws");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // UseSetting, not ConfigureAppConfiguration: the composition root reads some settings (Redis) while it registers.
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        if (_clock is not null) builder.ConfigureServices(services => services.Replace(ServiceDescriptor.Singleton(_clock)));
    }
}
