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
        Assert.Equal("max-age=63072000; includeSubDomains", secure.Headers.GetValues("Strict-Transport-Security").Single());

        using var plain = await new HttpClient { BaseAddress = stack.BaseUrl }.GetAsync(".well-known/jwks.json");
        Assert.False(plain.Headers.Contains("Strict-Transport-Security"));
    }

    /// <summary>
    /// Mozilla's "intermediate" profile (security review L4): TLS 1.2 only with ECDHE and an AEAD cipher, TLS 1.3, and no
    /// session tickets (a ticket key that never rotates would undo forward secrecy). Asked with openssl s_client, which
    /// offers exactly the suite it is given.
    /// </summary>
    [Fact]
    public async Task Tls_offers_only_aead_ecdhe_suites_on_1_2_and_1_3_and_no_session_tickets()
    {
        foreach (var cbc in new[] { "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA256" })
        {
            var (ok, said) = await HandshakeAsync("-tls1_2", "-cipher", cbc);
            Assert.False(ok, $"TLS 1.2 with {cbc} was accepted:\n{said}");
        }
        var (ok12, said12) = await HandshakeAsync("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256");
        Assert.True(ok12, said12);
        Assert.DoesNotContain("TLS session ticket", said12, StringComparison.Ordinal);
        var (ok13, said13) = await HandshakeAsync("-tls1_3");
        Assert.True(ok13, said13);
        Assert.Contains("TLSv1.3", said13, StringComparison.Ordinal);
        var (ok11, _) = await HandshakeAsync("-tls1_1", "-cipher", "ALL:@SECLEVEL=0");
        Assert.False(ok11);
    }

    /// <summary>One handshake with HAProxy's TLS port: whether it completed, and what openssl printed.</summary>
    private async Task<(bool Ok, string Said)> HandshakeAsync(params string[] options)
    {
        var info = new System.Diagnostics.ProcessStartInfo("openssl") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["s_client", "-connect", $"127.0.0.1:{stack.TlsPort}", "-servername", "localhost", .. options]) info.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(info)!;
        process.StandardInput.Close();
        var error = process.StandardError.ReadToEndAsync();
        var output = await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(timeout.Token);
        var said = output + await error;
        // A completed handshake names its cipher; a refused one says "Cipher is (NONE)" or prints no session at all.
        return (process.ExitCode == 0 && said.Contains("Cipher is ", StringComparison.Ordinal) && !said.Contains("Cipher is (NONE)", StringComparison.Ordinal), said);
    }
}
