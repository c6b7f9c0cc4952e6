using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;

namespace Sealpost.Messages.Identity;

/// <summary>
/// Answers "does this account exist?" by asking the users service's public record endpoint, cached briefly,
/// so nobody fills mailboxes of names that do not exist.
/// </summary>
public sealed class RecipientDirectory(HttpClient http, IOptions<UsersOptions> options, TimeProvider clock)
{
    private const int MaxCached = 100_000;
    private readonly ConcurrentDictionary<string, (bool Exists, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<string, Task<bool>> _asking = new(StringComparer.Ordinal);

    /// <summary>True or false for a definite answer; throws <see cref="HttpRequestException"/> when the users service cannot say.</summary>
    public Task<bool> ExistsAsync(string username, CancellationToken ct)
    {
        if (_cache.TryGetValue(username, out var cached) && cached.Until > clock.GetUtcNow()) return Task.FromResult(cached.Exists);
        // Many sends to a name not yet cached share one question instead of each asking the users service.
        var asking = _asking.GetOrAdd(username, name => AskAsync(name));
        return asking.WaitAsync(ct);
    }

    private async Task<bool> AskAsync(string username)
    {
        try
        {
            return await AskUsersServiceAsync(username);
        }
        finally
        {
            _asking.TryRemove(username, out _);
        }
    }

    private async Task<bool> AskUsersServiceAsync(string username)
    {
        var now = clock.GetUtcNow();
        using var response = await http.GetAsync(new Uri(options.Value.BaseUrl, "/v1/accounts/" + Uri.EscapeDataString(username)));
        bool exists;
        if (response.StatusCode == HttpStatusCode.OK) exists = true;
        else if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest) exists = false;
        else throw new HttpRequestException($"users service answered {(int)response.StatusCode}", null, response.StatusCode);

        if (_cache.Count >= MaxCached) _cache.Clear();
        _cache[username] = (exists, now + (exists ? options.Value.RecipientCacheTime : options.Value.UnknownRecipientCacheTime));
        return exists;
    }
}
