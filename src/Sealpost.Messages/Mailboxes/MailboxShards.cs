using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Sealpost.Messages.Mailboxes;

/// <summary>
/// Mailboxes are spread over a fixed number of virtual shards by recipient device; configuration maps the shards to
/// PostgreSQL clusters (<see cref="MailboxClusters"/>). A mailbox, its acks and its drain each touch one shard. The
/// function is also in SQL (migration 0005, <c>mailbox_shard</c>), where a shard move selects its rows; a test holds the
/// two equal.
/// </summary>
internal static class MailboxShards
{
    /// <summary>The number of virtual shards, fixed for good: changing it would move every mailbox.</summary>
    public const int Count = 64;

    /// <summary>The first four bytes of SHA-256 of the device address (UTF-8), big-endian, modulo <see cref="Count"/>.</summary>
    public static int Of(string recipient)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        var bytes = Encoding.UTF8.GetBytes(recipient);
        SHA256.HashData(bytes, hash);
        return (int)(BinaryPrimitives.ReadUInt32BigEndian(hash) % Count);
    }

    /// <summary>Parses a list of shards and ranges ("0-31", "0-15,40,48-63", or "" for none).</summary>
    public static int[] Parse(string? list)
    {
        var shards = new SortedSet<int>();
        foreach (var part in (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bounds = part.Split('-', 2, StringSplitOptions.TrimEntries);
            var first = Shard(bounds[0], list);
            var last = bounds.Length == 2 ? Shard(bounds[1], list) : first;
            if (last < first) throw new FormatException($"the shard range '{part}' runs backwards");
            for (var s = first; s <= last; s++) shards.Add(s);
        }
        return [.. shards];
    }

    private static int Shard(string text, string? list) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s < Count
            ? s
            : throw new FormatException($"'{list}' is not a list of shards 0-{Count - 1} (e.g. 0-31,40)");
}
