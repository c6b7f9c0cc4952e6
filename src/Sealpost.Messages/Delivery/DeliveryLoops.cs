using Microsoft.Extensions.Options;
using Sealpost.Messages.Cluster;
using Sealpost.Messages.Monitoring;

namespace Sealpost.Messages.Delivery;

/// <summary>
/// The instance's delivery loops: listening on the cluster bus, the relay's grace (and its last writes on shutdown), and
/// polling while the bus is away (what the relay held is written at once then: <see cref="Relay.StoreAllHeld"/>). Stored-notices published while a bus connection is down are lost, on either side: so
/// while it is away every socket here rereads its mailbox now and every <see cref="DeliveryOptions.DegradedPollInterval"/>;
/// once it is back they read once more, and every other instance is told to have its sockets read too (they missed
/// what this one announced meanwhile).
/// </summary>
internal sealed class DeliveryLoops(
    IClusterBus bus, BusDispatcher dispatcher, Relay relay, LocalDevices devices, IOptions<DeliveryOptions> options, TimeProvider clock,
    MessagesMetrics metrics) : BackgroundService
{
    private int _pollingWhileAway;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        bus.Lost += OnLost;
        bus.Restored += OnRestored;
        return base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(bus.ListenAsync(dispatcher, stoppingToken), relay.RunGraceAsync(stoppingToken));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        bus.Lost -= OnLost;
        bus.Restored -= OnRestored;
        await base.StopAsync(cancellationToken);
    }

    private void OnLost()
    {
        metrics.BusDisconnects.Add(1);
        relay.StoreAllHeld();
        if (Interlocked.Exchange(ref _pollingWhileAway, 1) == 0) _ = PollWhileAwayAsync();
    }

    private void OnRestored()
    {
        metrics.BusReconnects.Add(1);
        devices.WakeAll();
        _ = AnnounceReturnAsync();
    }

    private async Task AnnounceReturnAsync()
    {
        try
        {
            await bus.PublishToAllAsync(new BusReturned(bus.InstanceId));
        }
        catch (Exception)
        {
            // Away again: the next return announces it.
        }
    }

    private async Task PollWhileAwayAsync()
    {
        try
        {
            do
            {
                devices.WakeAll();
                await Task.Delay(options.Value.DegradedPollInterval, clock);
            }
            while (!bus.IsHealthy);
            devices.WakeAll();   // what was announced during the last interval
            // And on every other instance: what this one announced while away may never have arrived, and a node that
            // stays dead (its replica took over) never brings the "restored" that would say so.
            await AnnounceReturnAsync();
        }
        finally
        {
            Volatile.Write(ref _pollingWhileAway, 0);
        }
    }
}
