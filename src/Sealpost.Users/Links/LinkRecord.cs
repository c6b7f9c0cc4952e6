using Npgsql;

namespace Sealpost.Users.Links;

/// <summary>
/// A link as stored: what the new device asked with (its name, its key, the account it means to join: null only for
/// links made before that was asked), the account that fetched it and the device id reserved for it (both null until
/// then), and where it stands. <see cref="Expired"/> is by the database's clock.
/// </summary>
public sealed record LinkRecord(
    Guid Id,
    byte[] PollHash,
    string DeviceName,
    byte[] PublicKey,
    DateTimeOffset ExpiresAt,
    Guid? AccountId,
    int? DeviceId,
    byte[]? Certificate,
    bool Approved,
    bool Used,
    bool Expired,
    Guid? ForAccountId)
{
    public const string Columns = """
        id, poll_hash, device_name, public_key, expires_at, account_id, device_id, certificate,
        approved_at IS NOT NULL, used_at IS NOT NULL, expires_at <= now(), for_account_id
        """;

    /// <summary>Neither fetched, approved nor polled any more: expired, or used.</summary>
    public bool Gone => Expired || Used;

    public static LinkRecord Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), (byte[])r[1], r.GetString(2), (byte[])r[3], r.GetFieldValue<DateTimeOffset>(4),
        r.IsDBNull(5) ? null : r.GetGuid(5), r.IsDBNull(6) ? null : r.GetInt32(6), r.IsDBNull(7) ? null : (byte[])r[7],
        r.GetBoolean(8), r.GetBoolean(9), r.GetBoolean(10), r.IsDBNull(11) ? null : r.GetGuid(11));

    /// <summary>Whether <paramref name="accountId"/> is the account the new device named: any other is told the link does not exist.</summary>
    public bool IsFor(Guid accountId) => ForAccountId == accountId;
}
