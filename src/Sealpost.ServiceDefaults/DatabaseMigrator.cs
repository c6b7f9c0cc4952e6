using System.Reflection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Sealpost.ServiceDefaults;

/// <summary>
/// Applies the numbered <c>Migrations/NNNN_name.sql</c> files embedded in a service's assembly, in order, once.
/// An advisory lock makes it safe for several instances starting at the same moment.
/// </summary>
public static partial class DatabaseMigrator
{
    public static async Task MigrateAsync(NpgsqlDataSource dataSource, Assembly assembly, ILogger logger, CancellationToken ct)
    {
        var migrations = assembly.GetManifestResourceNames()
            .Where(n => n.Contains(".Migrations.", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => (Resource: n, Name: n[(n.IndexOf(".Migrations.", StringComparison.Ordinal) + 12)..^4]))
            .Select(m => (m.Resource, m.Name, Version: int.Parse(m.Name.AsSpan(0, 4), System.Globalization.CultureInfo.InvariantCulture)))
            .OrderBy(m => m.Version)
            .ToList();

        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(8347001)", connection, tx))
            await lockCmd.ExecuteNonQueryAsync(ct);
        await using (var create = new NpgsqlCommand(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            connection, tx))
            await create.ExecuteNonQueryAsync(ct);

        var applied = new HashSet<int>();
        await using (var read = new NpgsqlCommand("SELECT version FROM schema_migrations", connection, tx))
        await using (var reader = await read.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct)) applied.Add(reader.GetInt32(0));

        foreach (var (resource, name, version) in migrations.Where(m => !applied.Contains(m.Version)))
        {
            await using var stream = assembly.GetManifestResourceStream(resource)!;
            using var text = new StreamReader(stream);
            await using (var apply = new NpgsqlCommand(await text.ReadToEndAsync(ct), connection, tx))
                await apply.ExecuteNonQueryAsync(ct);
            await using var record = new NpgsqlCommand("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", connection, tx)
            {
                Parameters = { new() { Value = version }, new() { Value = name } },
            };
            await record.ExecuteNonQueryAsync(ct);
            LogApplied(logger, name);
        }
        await tx.CommitAsync(ct);
    }

    /// <summary>Creates the database named in the connection string when it does not exist yet (development and tests).</summary>
    public static async Task EnsureDatabaseAsync(string connectionString, CancellationToken ct)
    {
        var target = new NpgsqlConnectionStringBuilder(connectionString);
        var admin = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(admin.ConnectionString);
        await connection.OpenAsync(ct);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection)
        {
            Parameters = { new() { Value = target.Database } },
        };
        if (await exists.ExecuteScalarAsync(ct) is not null) return;
        // CREATE DATABASE takes no parameters; the name is quoted as an identifier instead.
        var quoted = "\"" + target.Database!.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted}", connection);
        try
        {
            await create.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
            // Another instance created it first.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {Migration}")]
    private static partial void LogApplied(ILogger logger, string migration);
}
