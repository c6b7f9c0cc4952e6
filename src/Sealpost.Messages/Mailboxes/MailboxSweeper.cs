using Microsoft.Extensions.Options;
using Sealpost.Messages.Monitoring;

namespace Sealpost.Messages.Mailboxes;

/// <summary>
/// Deletes expired messages in the background; every instance sweeps, and SKIP LOCKED keeps them apart. After each
/// sweep it counts what waits, for the mailbox gauges of <see cref="MessagesMetrics"/>.
/// </summary>
internal sealed partial class MailboxSweeper(IMailboxStore store, IOptions<MailboxOptions> options, TimeProvider clock, MessagesMetrics metrics,
    ILogger<MailboxSweeper> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, clock);
        do
        {
            try
            {
                var expired = await store.SweepAsync(stoppingToken);
                if (expired > 0) LogExpired(logger, expired);
                metrics.Expired.Add(expired);
                metrics.SetDepth(await store.DepthAsync(stoppingToken));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogSweepFailed(logger, e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Expired {Count} undelivered messages")]
    private static partial void LogExpired(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mailbox sweep failed: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string reason);
}
