using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sealpost.Crypto;
using Sealpost.Protocol;
using Sealpost.Testing;

namespace Sealpost.Bench.Infrastructure;

/// <summary>One benchmark account: throwaway credentials and key pair, kept only in the pool file.</summary>
public sealed class PoolUser
{
    public required string Username { get; init; }

    public required string Password { get; init; }

    /// <summary>Raw X25519 private key, base64url.</summary>
    public required string PrivateKey { get; init; }

    public int KeyId { get; set; } = 1;

    public string? RefreshToken { get; set; }

    [JsonIgnore]
    public string? AccessToken { get; set; }

    [JsonIgnore]
    public X25519KeyPair Keys => _keys ??= X25519KeyPair.FromPrivateKey(System.Buffers.Text.Base64Url.DecodeFromChars(PrivateKey));

    [JsonIgnore]
    public EnvelopeParty AsSender => new(Username, (uint)KeyId, Keys.PrivateKey.ToArray());

    [JsonIgnore]
    public EnvelopeRecipient AsRecipient => new(Username, (uint)KeyId, Keys.PublicKey.ToArray());

    private X25519KeyPair? _keys;
}

/// <summary>
/// The accounts benchmarks run as. Registering and logging in cost an Argon2id hash each (by design), so accounts are
/// made once and kept in a pool file (with their rotating refresh tokens) and reused by later runs; a run refreshes
/// their access tokens, which costs no password hash. An account the server no longer knows is made again.
/// </summary>
public sealed class UserPool
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = false };
    private readonly Lock _saveGate = new();

    private UserPool(string path, string prefix, List<PoolUser> users)
    {
        FilePath = path;
        Prefix = prefix;
        Users = users;
    }

    public string FilePath { get; }

    public string Prefix { get; }

    public List<PoolUser> Users { get; }

    public static string DefaultPath(Uri url)
    {
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "sealpost-bench", $"pool-{url.Host}-{url.Port}.json");
    }

    public static UserPool Load(string path)
    {
        if (File.Exists(path))
        {
            var file = JsonSerializer.Deserialize<PoolFile>(File.ReadAllText(path), Json) ?? throw new BenchException($"{path} is not a pool file.");
            return new UserPool(path, file.Prefix, file.Users);
        }
        // A short random prefix keeps pools of different machines or wiped databases apart.
        return new UserPool(path, "bench_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3)), []);
    }

    public void Save()
    {
        lock (_saveGate)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
            var temp = FilePath + ".tmp";
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                JsonSerializer.Serialize(stream, new PoolFile(Prefix, Users), Json);
            }
            File.Move(temp, FilePath, overwrite: true);
        }
    }

    public PoolUser NewUser(int index) => new()
    {
        Username = string.Create(CultureInfo.InvariantCulture, $"{Prefix}_{index}"),
        Password = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(18)),
        PrivateKey = System.Buffers.Text.Base64Url.EncodeToString(X25519KeyPair.Generate().PrivateKey),
    };

    /// <summary>Registers accounts until the pool holds <paramref name="count"/>; each costs the server two Argon2id hashes (register, login).</summary>
    public async Task EnsureAsync(int count, UsersApi api, int concurrency, CancellationToken ct)
    {
        if (Users.Count >= count) return;
        var missing = count - Users.Count;
        Console.Error.WriteLine($"making {missing:N0} benchmark accounts (Argon2id-bound: about {missing * 2:N0} password hashes on the server; kept in {FilePath} for later runs)…");
        var next = NextIndex();
        var made = 0;
        var start = Clock.Now;
        var added = new ConcurrentBag<PoolUser>();
        using var progress = new Progress(() => $"accounts {made:N0}/{missing:N0} ({made / Math.Max(0.001, Clock.SecondsSince(start)):N0}/s)");
        await Parallel.ForEachAsync(Enumerable.Range(0, missing), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct },
            async (_, token) =>
            {
                var user = NewUser(Interlocked.Increment(ref next) - 1);
                await RegisterAsync(api, user, token);
                await LoginAsync(api, user, token);
                lock (Users) Users.Add(user);
                if (Interlocked.Increment(ref made) % 500 == 0) Save();
            });
        Users.Sort((a, b) => IndexOf(a).CompareTo(IndexOf(b)));
        Save();
    }

    /// <summary>Fresh access tokens for users [start, start+count): a refresh each, a login where the refresh fails.</summary>
    public async Task RefreshAsync(int start, int count, UsersApi api, int concurrency, CancellationToken ct)
    {
        var done = 0;
        var logins = 0;
        var t0 = Clock.Now;
        using (var progress = new Progress(() => $"tokens {done:N0}/{count:N0} ({logins:N0} needed a login)"))
        {
            await Parallel.ForEachAsync(Users.Skip(start).Take(count), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct },
                async (user, token) =>
                {
                    if (user.RefreshToken is { } refresh)
                    {
                        var (status, session) = await api.TryRefreshAsync(refresh, token);
                        if (session is not null)
                        {
                            user.RefreshToken = session.RefreshToken;
                            user.AccessToken = session.AccessToken;
                            Interlocked.Increment(ref done);
                            return;
                        }
                        if (status != HttpStatusCode.Unauthorized) throw new BenchException($"refreshing a session answered {(int)status}.");
                    }
                    Interlocked.Increment(ref logins);
                    if (!await TryLoginAsync(api, user, token))
                    {
                        // The database was wiped since the pool was made: the same account again.
                        await RegisterAsync(api, user, token);
                        await LoginAsync(api, user, token);
                    }
                    Interlocked.Increment(ref done);
                });
        }
        Save();
        Console.Error.WriteLine($"{count:N0} access tokens in {Clock.SecondsSince(t0):0.0} s ({logins:N0} logins).");
    }

    public static async Task RegisterAsync(UsersApi api, PoolUser user, CancellationToken ct)
    {
        var status = await api.TryRegisterAsync(user.Username, user.Password, AccountRules.EncodePublicKey(user.Keys.PublicKey), ct);
        if (status == HttpStatusCode.Conflict) throw new BenchException($"{user.Username} is taken by an account this pool does not know; delete {user.Username}'s pool file or use --pool.");
        if (status != HttpStatusCode.Created) throw new BenchException($"registering {user.Username} answered {(int)status}.");
    }

    private static async Task LoginAsync(UsersApi api, PoolUser user, CancellationToken ct)
    {
        if (!await TryLoginAsync(api, user, ct)) throw new BenchException($"logging in as {user.Username} was refused.");
    }

    private static async Task<bool> TryLoginAsync(UsersApi api, PoolUser user, CancellationToken ct)
    {
        var (status, session) = await api.TryLoginAsync(user.Username, user.Password, ct);
        if (session is null)
        {
            if (status == HttpStatusCode.Unauthorized) return false;
            throw new BenchException($"logging in as {user.Username} answered {(int)status}.");
        }
        user.RefreshToken = session.RefreshToken;
        user.AccessToken = session.AccessToken;
        return true;
    }

    /// <summary>The number after the highest account name in the pool.</summary>
    public int NextIndex() => Users.Count == 0 ? 0 : Users.Max(IndexOf) + 1;

    private static int IndexOf(PoolUser user) =>
        int.TryParse(user.Username.AsSpan(user.Username.LastIndexOf('_') + 1), CultureInfo.InvariantCulture, out var i) ? i : int.MaxValue;

    private sealed record PoolFile(string Prefix, List<PoolUser> Users);
}
