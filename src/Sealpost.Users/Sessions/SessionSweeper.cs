using Microsoft.Extensions.Options;
using Npgsql;

namespace Sealpost.Users.Sessions;

/// <summary>
/// Hourly housekeeping: forgets ended sessions, expired links, stale login failures and registration counts, so no table grows without
/// bound (the failures and links tables can be fed by anyone).
/// </summary>
public sealed partial class SessionSweeper(NpgsqlDataSource db, IOptions<LoginThrottleOptions> throttle, IOptions<Accounts.RegistrationLimitOptions> registrations, ILogger<SessionSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1));
        do
        {
            try
            {
                await using var batch = db.CreateBatch();
                batch.BatchCommands.Add(new NpgsqlBatchCommand(
                    "DELETE FROM sessions WHERE expires_at < now() - interval '1 day' OR revoked_at < now() - interval '1 day'"));
                // A link is kept a day past its expiry, like an ended session, for the logs' sake; then its id is unknown.
                batch.BatchCommands.Add(new NpgsqlBatchCommand("DELETE FROM links WHERE expires_at < now() - interval '1 day'"));
                batch.BatchCommands.Add(new NpgsqlBatchCommand(
                    "DELETE FROM login_failures WHERE last_failure < now() - $1 AND blocked_until < now()")
                {
                    Parameters = { new() { Value = throttle.Value.ForgetAfter } },
                });
                batch.BatchCommands.Add(new NpgsqlBatchCommand("DELETE FROM registrations_by_address WHERE window_start < now() - $1")
                {
                    Parameters = { new() { Value = registrations.Value.Window } },
                });
                await batch.ExecuteNonQueryAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogSweepFailed(logger, e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session housekeeping failed: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string reason);
}
