using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Sealpost.ServiceDefaults;

/// <summary>Brings a service's schema up to date (the migrations embedded beside <typeparamref name="TService"/>) before it takes requests.</summary>
public sealed class DatabaseMigrations<TService>(NpgsqlDataSource db, IOptions<DatabaseOptions> options, ILogger<TService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.CreateIfMissing) await DatabaseMigrator.EnsureDatabaseAsync(options.Value.ConnectionString, cancellationToken);
        await DatabaseMigrator.MigrateAsync(db, typeof(TService).Assembly, logger, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
