using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;
using Sealpost.Protocol;

namespace Sealpost.Messages.Identity;

/// <summary>
/// Answers "which devices does this account have?" (none: no such account) from the users service's public device
/// list, cached, so nobody fills mailboxes of names that do not exist and every send is checked against the devices
/// it must reach. The users service says on Redis when an account's devices change (<see cref="Forget"/>); a send
/// that disagrees with the cache asks again before it is refused, so a missed notice costs a question, not a message.
/// </summary>
internal sealed class DeviceDirectory(HttpClient http, IOptions<UsersOptions> options, TimeProvider clock)
{
    private const int MaxCached = 100_000;
    private static readonly int[] NoAccount = [];
    // The answer is kept as a completed task: a send checks two lists, and a hit then allocates nothing.
    private readonly ConcurrentDictionary<string, (Task<int[]> Devices, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task<int[]>> _asking = new(StringComparer.Ordinal);
    private long _forgotten;

    /// <summary>
    /// The account's live device ids, ascending; empty when no account has that name. Throws
    /// <see cref="HttpRequestException"/> when the users service cannot say.
    /// </summary>
    public Task<int[]> DevicesAsync(string username, CancellationToken ct)
    {
        if (_cache.TryGetValue(username, out var cached) && cached.Until > clock.GetUtcNow()) return cached.Devices;
        // Many sends to a name not yet cached share one question instead of each asking the users service.
        while (true)
        {
            if (_asking.TryGetValue(username, out var asking)) return asking.WaitAsync(ct);
            var question = new TaskCompletionSource<int[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_asking.TryAdd(username, question.Task)) continue;
            _ = AskAsync(username, question);
            return question.Task.WaitAsync(ct);
        }
    }

    /// <summary>Asks the users service again, now (a send disagreed with what was cached).</summary>
    public Task<int[]> RefreshAsync(string username, CancellationToken ct)
    {
        Forget(username);
        // A question of its own, not one already on its way: that one may have left before the change.
        return AskUsersServiceAsync(username).WaitAsync(ct);
    }

    /// <summary>The account's devices changed: the next send to it asks the users service.</summary>
    public void Forget(string username)
    {
        Interlocked.Increment(ref _forgotten);
        _cache.TryRemove(username, out _);
    }

    // The question is in _asking before it is asked, and leaves it (itself, not a newer one) before its answer is given,
    // so a send that hears a failure and tries again asks again. Before, an answer that came at once (a 503 already
    // waiting in the socket on a busy machine) was put there after it had left, and failed every later send to the name.
    private async Task AskAsync(string username, TaskCompletionSource<int[]> question)
    {
        int[]? devices = null;
        Exception? failure = null;
        try
        {
            devices = await AskUsersServiceAsync(username);
        }
        catch (Exception e)
        {
            failure = e;
        }
        _asking.TryRemove(KeyValuePair.Create(username, question.Task));
        if (failure is null) question.SetResult(devices!);
        else question.SetException(failure);
    }

    private async Task<int[]> AskUsersServiceAsync(string username)
    {
        var now = clock.GetUtcNow();
        // An answer that was on its way while a change was announced is used once but not kept.
        var forgotten = Interlocked.Read(ref _forgotten);
        using var response = await http.GetAsync(new Uri(options.Value.BaseUrl, "/v1/accounts/" + Uri.EscapeDataString(username) + "/devices"));
        int[] devices;
        if (response.StatusCode == HttpStatusCode.OK)
        {
            var list = await response.Content.ReadFromJsonAsync(SealpostJsonContext.Default.DeviceList)
                ?? throw new HttpRequestException("users service answered an empty device list");
            devices = [.. list.Devices.Select(d => d.DeviceId).Order()];
        }
        else if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest) devices = NoAccount;
        else throw new HttpRequestException($"users service answered {(int)response.StatusCode}", null, response.StatusCode);

        if (_cache.Count >= MaxCached) _cache.Clear();
        if (Interlocked.Read(ref _forgotten) == forgotten)
            _cache[username] = (Task.FromResult(devices), now + (devices.Length > 0 ? options.Value.RecipientCacheTime : options.Value.UnknownRecipientCacheTime));
        return devices;
    }
}
