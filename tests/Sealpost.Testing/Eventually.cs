using Xunit;

namespace Sealpost.Testing;

/// <summary>Waits for something the system does in its own time (a sweep, a health check, a reconnect).</summary>
public static class Eventually
{
    public static async Task HoldsAsync(Func<Task<bool>> condition, string failure = "the condition did not become true in time", int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return;
            await Task.Delay(100);
        }
        Assert.Fail(failure);
    }
}
