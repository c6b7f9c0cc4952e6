using Npgsql;

namespace Sealpost.Users.Devices;

/// <summary>One key a device has or had, with its certificate (absent for keys made before the account had an identity).</summary>
public sealed record DeviceKeyRecord(int DeviceId, int KeyId, byte[] PublicKey, byte[]? Certificate, DateTimeOffset CreatedAt)
{
    /// <summary>From the columns device_id, key_id, public_key, certificate, created_at, in that order.</summary>
    public static DeviceKeyRecord Read(NpgsqlDataReader reader) =>
        new(reader.GetInt32(0), reader.GetInt32(1), (byte[])reader[2], reader.IsDBNull(3) ? null : (byte[])reader[3], reader.GetFieldValue<DateTimeOffset>(4));
}
