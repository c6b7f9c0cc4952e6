using System.Net;
using System.Text;
using Sealpost.Client.Accounts;

namespace Sealpost.Client.Tests;

/// <summary>How the SDK treats the users service's answers, with a scripted server.</summary>
public sealed class UsersApiClientTests
{
    private const string Busy = """{"type":"urn:sealpost:problem:busy","title":"The server is busy checking passwords; try again shortly.","status":503}""";
    private const string Session = """{"access_token":"a","token_type":"Bearer","expires_at":"2026-11-24T01:40:55+00:00","refresh_token":"r","refresh_expires_at":"2026-12-24T01:30:55+00:00"}""";

    [Fact]
    public async Task A_busy_answer_is_sent_again_after_its_Retry_After()
    {
        var server = new ScriptedServer(Answer(HttpStatusCode.ServiceUnavailable, Busy, retryAfter: 1), Answer(HttpStatusCode.OK, Session));
        using var http = new HttpClient(server) { BaseAddress = new Uri("http://127.0.0.1:1/") };

        var session = await new UsersApiClient(http).LoginAsync("alice", "correct horse battery", null, default);

        Assert.Equal("a", session.AccessToken);
        Assert.Equal(2, server.Requests);
    }

    [Fact]
    public async Task A_503_without_Retry_After_is_not_retried_and_says_what_happened()
    {
        var server = new ScriptedServer(Answer(HttpStatusCode.ServiceUnavailable, Busy.Replace("busy", "unavailable", StringComparison.Ordinal)));
        using var http = new HttpClient(server) { BaseAddress = new Uri("http://127.0.0.1:1/") };

        var e = await Assert.ThrowsAsync<SealpostException>(() => new UsersApiClient(http).LoginAsync("alice", "correct horse battery", null, default));

        Assert.Equal("unavailable", e.Code);
        Assert.Equal(1, server.Requests);
    }

    private static HttpResponseMessage Answer(HttpStatusCode status, string json, int? retryAfter = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/problem+json") };
        if (retryAfter is { } seconds) response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(seconds));
        return response;
    }

    private sealed class ScriptedServer(params HttpResponseMessage[] answers) : HttpMessageHandler
    {
        public int Requests { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(answers[Requests++]);
    }
}
