using Npgsql;
using Sealpost.Testing;

namespace Sealpost.Users.Tests;

/// <summary>One pair of users instances (one database) for every test class in this project.</summary>
[CollectionDefinition(Name)]
public sealed class UsersCollection : ICollectionFixture<UsersCluster>
{
    public const string Name = "users";
}

internal static class Db
{
    public static async Task<long> CountAsync(UsersCluster cluster, string sql, params object[] values) =>
        Convert.ToInt64(await ScalarAsync(cluster.ConnectionString, sql, values), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Changes stored rows directly, as a test's stand-in for time passing.</summary>
    public static Task ExecuteAsync(UsersCluster cluster, string sql, params object[] values) => ScalarAsync(cluster.ConnectionString, sql, values);

    public static async Task<object?> ScalarAsync(string connectionString, string sql, params object[] values)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        foreach (var value in values) cmd.Parameters.Add(new NpgsqlParameter { Value = value });
        return await cmd.ExecuteScalarAsync();
    }

    /// <summary>A digest of every stored account field, to show hostile requests changed nothing.</summary>
    public static async Task<string> SnapshotAsync(UsersCluster cluster)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT count(*) || ':' || coalesce(md5(string_agg(a::text || k::text, ',' ORDER BY a.id, k.key_id)), '')
            FROM accounts a JOIN account_keys k ON k.account_id = a.id
            """, connection);
        return (string)(await cmd.ExecuteScalarAsync())!;
    }
}
