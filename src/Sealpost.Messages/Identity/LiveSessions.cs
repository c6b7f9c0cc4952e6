using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using Sealpost.Protocol;

namespace Sealpost.Messages.Identity;

/// <summary>
/// Answers "is this token's session still live?" at connect and at each <c>auth</c> renewal, by asking the users service
/// with the token itself (<c>GET /v1/sessions/current</c>: 204 live, 401 ended), so a logged-out, rotated or revoked
/// session opens and renews no socket whether or not its <see cref="SessionsEnded"/> notice arrived (security review
/// M1, decision 84). A live answer is kept for <see cref="UsersOptions.LiveSessionCacheTime"/> (under a second), which
/// bounds how long an ended session can still connect; an ended one is kept until its token expires (it never comes
/// back). When the users service cannot say, the token (signed, at most minutes old) is trusted, as the device check at
/// connect does: a refusal makes clients log in again, so it must be certain.
/// </summary>
internal sealed partial class LiveSessions(HttpClient http, IOptions<UsersOptions> options, TimeProvider clock, ILogger<LiveSessions> logger)
{
    private const int MaxCached = 100_000;
    private readonly ConcurrentDictionary<Guid, (bool Live, string Username, DateTimeOffset Until)> _answers = new();

    public async Task<bool> IsLiveAsync(string token, TokenIdentity identity, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (identity.Session != Guid.Empty && _answers.TryGetValue(identity.Session, out var known) && known.Until > now) return known.Live;
        bool live;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(options.Value.BaseUrl, "/v1/sessions/current"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request, ct);
            if (response.StatusCode == HttpStatusCode.NoContent) live = true;
            else if (response.StatusCode == HttpStatusCode.Unauthorized) live = false;
            else throw new HttpRequestException($"users service answered {(int)response.StatusCode}", null, response.StatusCode);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !ct.IsCancellationRequested))
        {
            LogUnanswered(logger, identity.Username, e.Message);
            return true;
        }
        if (identity.Session == Guid.Empty) return live;
        if (_answers.Count >= MaxCached) _answers.Clear();
        _answers[identity.Session] = (live, identity.Username, live ? now + options.Value.LiveSessionCacheTime : identity.ExpiresAt);
        return live;
    }

    /// <summary>The users service said these sessions ended: a live answer kept for one of them is dropped now.</summary>
    public void Forget(SessionsEnded ended)
    {
        foreach (var (session, answer) in _answers)
            if (answer.Live && answer.Username == ended.Username && ended.Covers(session)) _answers.TryRemove(session, out _);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not ask the users service whether a session of {Username} is live ({Reason}); its signed token is trusted")]
    private static partial void LogUnanswered(ILogger logger, string username, string reason);
}
