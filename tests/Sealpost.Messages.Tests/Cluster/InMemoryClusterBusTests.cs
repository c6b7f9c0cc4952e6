using System.Collections.Concurrent;
using Sealpost.Messages.Cluster;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests.Cluster;

/// <summary>The in-memory bus keeps the bus's promises: to whom, in what order, never back to the publisher, nothing from a departed instance.</summary>
public sealed class InMemoryClusterBusTests : IAsyncLifetime
{
    private readonly InMemoryHub _hub = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _listening = [];

    [Fact]
    public async Task A_device_publication_reaches_the_other_subscribers_in_order_and_never_the_publisher()
    {
        var (a, heardByA) = Join();
        var (b, heardByB) = Join();
        var (c, heardByC) = Join();
        await a.SubscribeAsync("alice");
        await b.SubscribeAsync("alice");

        var ids = Enumerable.Range(0, 50).Select(_ => Guid.NewGuid()).ToList();
        var first = await a.PublishToDeviceAsync("alice", new StoredNotice(a.InstanceId, ids[0]));
        foreach (var id in ids.Skip(1)) a.PublishToDevice("alice", new StoredNotice(a.InstanceId, id));

        Assert.Equal(1, first);
        await Eventually.HoldsAsync(() => Task.FromResult(heardByB.Count == ids.Count), "b did not hear every notice");
        Assert.Equal(ids, heardByB.Select(h => ((StoredNotice)h.Message).MessageId));
        Assert.All(heardByB, h => Assert.Equal("alice", h.Device));
        Assert.Empty(heardByA);
        Assert.Empty(heardByC);
        Assert.Equal(3, await c.InstancesAsync());
    }

    [Fact]
    public async Task A_disconnected_instance_is_gone_for_the_others_and_hears_nothing_more()
    {
        var (a, heardByA) = Join();
        var (b, _) = Join();
        await a.SubscribeAsync("bob");

        a.Disconnect();
        b.PublishToInstance(a.InstanceId, new Flushed(b.InstanceId, Guid.NewGuid()));

        Assert.False(await b.IsAliveAsync(a.InstanceId));
        Assert.True(await b.IsAliveAsync(b.InstanceId));
        Assert.Equal(0, await b.PublishToDeviceAsync("bob", new StoredNotice(b.InstanceId, Guid.NewGuid())));
        Assert.Equal(0, await b.PublishToAllAsync(new BusReturned(b.InstanceId)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => a.PublishToDeviceAsync("bob", new StoredNotice(a.InstanceId, Guid.NewGuid())));
        Assert.Empty(heardByA);
    }

    private (InMemoryClusterBus Bus, ConcurrentQueue<(BusMessage Message, string? Device)> Heard) Join()
    {
        var bus = new InMemoryClusterBus(_hub);
        var heard = new ConcurrentQueue<(BusMessage, string?)>();
        _listening.Add(bus.ListenAsync(new Listener(heard), _stop.Token));
        return (bus, heard);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_listening);
    }

    private sealed class Listener(ConcurrentQueue<(BusMessage, string?)> heard) : IBusListener
    {
        public void OnMessage(BusMessage message, string? device) => heard.Enqueue((message, device));
    }
}
