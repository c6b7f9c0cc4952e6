using System.Net;
using System.Text.Json;
using Sealpost.Cli;
using Sealpost.Testing;

namespace Sealpost.Client.Tests;

/// <summary>
/// HAProxy terminates TLS with a certificate of its own making (as scripts/up does), and the CLI talks HTTPS and WSS
/// to it when told to trust that certificate; plain http is refused for any server not on this machine (issue 10
/// item 8).
/// </summary>
[Collection(StackCollection.Name)]
public sealed class TlsTests(SealpostStack stack) : IDisposable
{
    private readonly TempHomes _homes = new();

    public void Dispose() => _homes.Dispose();

    private CliRunner OverTls(bool trusting = true)
    {
        var cli = _homes.Runner(stack.TlsBaseUrl.ToString());
        if (trusting) cli.Environment["SEALPOST_SERVER_CERTIFICATE"] = stack.CertificatePath;
        return cli;
    }

    [Fact]
    public async Task Two_people_register_and_exchange_a_message_over_https_and_wss()
    {
        var (alice, bob) = (OverTls(), OverTls());
        var (aliceName, bobName) = (TestEnvironment.UniqueUsername("tlsa"), TestEnvironment.UniqueUsername("tlsb"));
        await alice.ExpectAsync(ExitCodes.Ok, "register", aliceName);
        await bob.ExpectAsync(ExitCodes.Ok, "register", bobName);

        await alice.ExpectAsync(ExitCodes.Ok, "send", bobName, "over TLS, end to end");
        var inbox = JsonDocument.Parse((await bob.ExpectAsync(ExitCodes.Ok, "inbox", "--json", "--wait", "2")).Out).RootElement;
        var message = Assert.Single(inbox.EnumerateArray());
        Assert.Equal("over TLS, end to end", message.GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_certificate_nobody_vouches_for_is_refused_and_nothing_is_sent()
    {
        var stranger = OverTls(trusting: false);
        var name = TestEnvironment.UniqueUsername("tlsx");
        var result = await stranger.RunAsync("register", name);

        Assert.Equal(ExitCodes.Network, result.ExitCode);
        Assert.Contains("--server-certificate", result.Error, StringComparison.Ordinal);
        Assert.Null(await stack.Api.LookupAsync(name));
    }

    [Fact]
    public async Task Plain_http_to_another_machine_is_refused_before_anything_is_sent()
    {
        var cli = _homes.Runner("http://sealpost.example/");
        var result = await cli.RunAsync("register", TestEnvironment.UniqueUsername("plain"));

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("plain http", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Https_answers_carry_hsts_and_plain_ones_do_not()
    {
        using var tls = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = ServerTransport.TrustOnly(stack.CertificatePath) },
        }) { BaseAddress = stack.TlsBaseUrl };
        using var secure = await tls.GetAsync(".well-known/jwks.json");
        Assert.Equal(HttpStatusCode.OK, secure.StatusCode);
        Assert.StartsWith("max-age=", secure.Headers.GetValues("Strict-Transport-Security").Single(), StringComparison.Ordinal);

        using var plain = await new HttpClient { BaseAddress = stack.BaseUrl }.GetAsync(".well-known/jwks.json");
        Assert.False(plain.Headers.Contains("Strict-Transport-Security"));
    }
}
