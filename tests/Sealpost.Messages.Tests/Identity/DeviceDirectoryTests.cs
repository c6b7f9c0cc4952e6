using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Identity;
using Sealpost.Protocol;

namespace Sealpost.Messages.Tests.Identity;

/// <summary>
/// The messages service's cache of device lists, on its own. The users service is played by a handler that answers at
/// once: what a real answer does when it is already waiting in the socket as the service comes to read it (HAProxy's
/// 503 while every users instance is down, on a busy machine).
/// </summary>
public sealed class DeviceDirectoryTests
{
    private sealed class AnswersAtOnce : HttpMessageHandler
    {
        public HttpStatusCode Status { get; set; } = HttpStatusCode.OK;

        public int Asked;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Asked);
            var name = request.RequestUri!.Segments[^2].TrimEnd('/');
            return Task.FromResult(Status == HttpStatusCode.OK
                ? new HttpResponseMessage(HttpStatusCode.OK)
                {
                    Content = JsonContent.Create(new DeviceList(name, null, [new PublicDevice(1, 1, "key", null)]), SealpostJsonContext.Default.DeviceList),
                }
                : new HttpResponseMessage(Status));
        }
    }

    private static DeviceDirectory Directory(HttpMessageHandler users) =>
        new(new HttpClient(users), Options.Create(new UsersOptions()), TimeProvider.System);

    [Fact]
    public async Task A_failure_that_came_at_once_is_not_kept_and_the_next_send_asks_again()
    {
        var users = new AnswersAtOnce { Status = HttpStatusCode.ServiceUnavailable };
        var directory = Directory(users);

        var failed = await Assert.ThrowsAsync<HttpRequestException>(() => directory.DevicesAsync("bob", CancellationToken.None));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);

        users.Status = HttpStatusCode.OK;
        Assert.Equal(new[] { 1 }, await directory.DevicesAsync("bob", CancellationToken.None));
        Assert.Equal(2, users.Asked);
        // Now cached: no third question.
        Assert.Equal(new[] { 1 }, await directory.DevicesAsync("bob", CancellationToken.None));
        Assert.Equal(2, users.Asked);
    }

    [Fact]
    public async Task An_answer_that_came_at_once_is_asked_again_once_forgotten()
    {
        var users = new AnswersAtOnce();
        var directory = Directory(users);

        Assert.Equal(new[] { 1 }, await directory.DevicesAsync("carol", CancellationToken.None));
        directory.Forget("carol");
        Assert.Equal(new[] { 1 }, await directory.DevicesAsync("carol", CancellationToken.None));
        Assert.Equal(2, users.Asked);
    }

    [Fact]
    public async Task Sends_at_once_to_a_name_not_cached_share_one_question()
    {
        var answer = new TaskCompletionSource();
        var users = new AnswersAtOnce();
        var slow = new DelegatingHandlerThatWaits(answer.Task) { InnerHandler = users };
        var directory = Directory(slow);

        var asks = Enumerable.Range(0, 20).Select(_ => directory.DevicesAsync("dave", CancellationToken.None)).ToArray();
        answer.SetResult();
        foreach (var devices in await Task.WhenAll(asks)) Assert.Equal(new[] { 1 }, devices);
        Assert.Equal(1, users.Asked);
    }

    private sealed class DelegatingHandlerThatWaits(Task until) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await until;
            return await base.SendAsync(request, cancellationToken);
        }
    }
}
