using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using NSec.Cryptography;

namespace Sealpost.Users.Passwords;

/// <summary>
/// Argon2id (libsodium through NSec) in the PHC string format, <c>$argon2id$v=19$m=19456,t=2,p=1$salt$hash</c>,
/// so each hash carries its own cost and the cost can be raised later: a login re-hashes a weaker hash. Every hash runs
/// under <see cref="PasswordWork"/>, so a flood waits for a slot or gets a 503 instead of taking every core.
/// </summary>
public sealed class PasswordHasher(Microsoft.Extensions.Options.IOptions<PasswordOptions> options, PasswordWork work)
{
    private const int SaltBytes = 16;
    private const int HashBytes = 32;
    private readonly PasswordOptions _options = options.Value;
    private readonly Lazy<string> _decoy = new(() => HashWith("decoy password for unknown users", options.Value.MemoryKiB, options.Value.Passes));

    public Task<string> HashAsync(string password, CancellationToken ct) =>
        work.RunAsync(() => HashWith(password, _options.MemoryKiB, _options.Passes), ct);

    /// <summary>Checks a password; with no stored hash (unknown user) it spends the same time and says no.</summary>
    public Task<bool> VerifyAsync(string password, string? encoded, CancellationToken ct) => work.RunAsync(() => Verify(password, encoded), ct);

    private bool Verify(string password, string? encoded)
    {
        if (encoded is null)
        {
            Verify(password, _decoy.Value);
            return false;
        }
        if (!TryParse(encoded, out var memory, out var passes, out var salt, out var expected)) return false;
        var actual = Derive(password, salt, memory, passes, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    public bool NeedsRehash(string encoded) =>
        !TryParse(encoded, out var memory, out var passes, out _, out _) || memory < _options.MemoryKiB || passes < _options.Passes;

    private static string HashWith(string password, int memoryKiB, int passes)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Derive(password, salt, memoryKiB, passes, HashBytes);
        return string.Create(CultureInfo.InvariantCulture,
            $"$argon2id$v=19$m={memoryKiB},t={passes},p=1${Convert.ToBase64String(salt).TrimEnd('=')}${Convert.ToBase64String(hash).TrimEnd('=')}");
    }

    private static byte[] Derive(string password, byte[] salt, int memoryKiB, int passes, int length) =>
        PasswordBasedKeyDerivationAlgorithm
            .Argon2id(new Argon2Parameters { DegreeOfParallelism = 1, MemorySize = memoryKiB, NumberOfPasses = passes })
            .DeriveBytes(password, salt, length);

    private static bool TryParse(string encoded, out int memoryKiB, out int passes, out byte[] salt, out byte[] hash)
    {
        memoryKiB = passes = 0;
        salt = hash = [];
        var parts = encoded.Split('$');
        if (parts.Length != 6 || parts[1] != "argon2id" || parts[2] != "v=19") return false;
        var costs = parts[3].Split(',');
        if (costs.Length != 3 || costs[2] != "p=1"
            || !costs[0].StartsWith("m=", StringComparison.Ordinal) || !int.TryParse(costs[0].AsSpan(2), CultureInfo.InvariantCulture, out memoryKiB)
            || !costs[1].StartsWith("t=", StringComparison.Ordinal) || !int.TryParse(costs[1].AsSpan(2), CultureInfo.InvariantCulture, out passes))
            return false;
        salt = FromUnpaddedBase64(parts[4]);
        hash = FromUnpaddedBase64(parts[5]);
        return salt.Length == SaltBytes && hash.Length >= 16;
    }

    private static byte[] FromUnpaddedBase64(string value)
    {
        var padded = value.PadRight(value.Length + (4 - value.Length % 4) % 4, '=');
        return Base64.IsValid(padded) ? Convert.FromBase64String(padded) : [];
    }
}
