using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

using Sealpost.Client.Accounts;

namespace Sealpost.Client.Storage;

/// <summary>
/// The local state of one profile: <c>$SEALPOST_HOME/profiles/&lt;name&gt;/</c>. Every file is replaced atomically
/// (temporary file, flush to disk, rename) with mode 0600, and folders are 0700: history holds plaintext and
/// session.json holds tokens, so nothing here is for other users of the machine. What is public says where a profile
/// is and what it holds for people; the documents themselves are the SDK's own.
/// </summary>
public sealed class ProfileFolder
{
    public const string DefaultProfile = "default";
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PrivateFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public ProfileFolder(string home, string profile = DefaultProfile)
    {
        if (string.IsNullOrEmpty(profile) || profile.Length > 64 || !profile.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') || profile.StartsWith('.'))
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.InvalidProfileName, $"A profile name is 1 to 64 characters from a-z, 0-9, '_', '-' and '.'; got \"{profile}\".");
        Home = Path.GetFullPath(home);
        Name = profile;
        Root = Path.Combine(Home, "profiles", profile);
    }

    public string Home { get; }
    public string Name { get; }
    public string Root { get; }

    internal string ConfigFile => Path.Combine(Home, "config.json");
    internal string AccountFile => Path.Combine(Root, "account.json");
    internal string SessionFile => Path.Combine(Root, "session.json");
    internal string ContactsFile => Path.Combine(Root, "contacts.json");
    internal string HistoryFile => Path.Combine(Root, "history.json");

    /// <summary>Where this profile's key files are, sealed under the passphrase.</summary>
    public string KeysFolder => Path.Combine(Root, "keys");
    private string LockFile => Path.Combine(Root, ".lock");

    /// <summary>The key file of this profile's own key with the given id.</summary>
    public string KeyFile(uint keyId) => Path.Combine(KeysFolder, $"{keyId}.key");

    /// <summary>The account's identity key (Ed25519), sealed under the passphrase like the device keys.</summary>
    internal string IdentityFile => Path.Combine(KeysFolder, "identity.key");

    /// <summary><c>$SEALPOST_HOME</c>, else <c>~/.sealpost</c>.</summary>
    public static string DefaultHome(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (environment("SEALPOST_HOME") is { Length: > 0 } home) return home;
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".sealpost");
    }

    internal void EnsureExists()
    {
        CreatePrivateFolder(Home);
        CreatePrivateFolder(Path.Combine(Home, "profiles"));
        CreatePrivateFolder(Root);
        CreatePrivateFolder(KeysFolder);
    }

    /// <summary>This profile's account, or null before register, login or link; read without asking the server.</summary>
    public LocalAccount? ReadAccount() => ReadAccountState() is { } state ? LocalAccount.Of(state) : null;

    /// <summary><c>config.json</c>, shared by every profile of this home, or null when there is none.</summary>
    public ClientConfig? ReadConfig() => Read(ConfigFile, LocalJsonContext.Default.ClientConfig);

    internal AccountState? ReadAccountState() => Read(AccountFile, LocalJsonContext.Default.AccountState);

    internal T? Read<T>(string path, JsonTypeInfo<T> type) where T : class
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.FileUnreadable, $"Cannot read '{path}'': {e.Message}", e);
        }
        try
        {
            return JsonSerializer.Deserialize(bytes, type)
                ?? throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.FileDamaged, $"The file '{path}' is damaged: it holds no document.");
        }
        catch (JsonException e)
        {
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.FileDamaged, $"The file '{path}' is damaged: it is not the JSON expected. Move it away to start afresh.", e);
        }
    }

    internal void Write<T>(string path, T value, JsonTypeInfo<T> type) =>
        WriteAtomically(path, JsonSerializer.SerializeToUtf8Bytes(value, type));

    /// <summary>Writes to a temporary file beside the target, flushes it to disk and renames it over the target, mode 0600.</summary>
    internal static void WriteAtomically(string path, ReadOnlySpan<byte> contents)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        CreatePrivateFolder(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = PrivateFile;
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(contents);
                // A crash after the rename must not leave an empty file where the old one was.
                stream.Flush(flushToDisk: true);
            }
            // The umask can only take bits away from UnixCreateMode; set the mode outright.
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temporary, PrivateFile);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.FileUnwritable, $"Cannot write '{path}': {e.Message}", e);
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the caller is already reporting the failure that matters.
        }
    }

    internal static void TryDeleteFolder(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort, as above.
        }
    }

    /// <summary>
    /// Holds the profile's lock file exclusively, so two processes of the same profile (a <c>listen</c> and a
    /// <c>send</c>) do not interleave read-modify-write cycles or both spend the same refresh token.
    /// </summary>
    internal async Task<IDisposable> LockAsync(CancellationToken ct)
    {
        EnsureExists();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
                if (!OperatingSystem.IsWindows()) options.UnixCreateMode = PrivateFile;
                return new FileStream(LockFile, options);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(15, ct).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.ProfileLocked, $"Another sealpost process has held '{LockFile}' for 30 s; is one stuck?", e);
            }
        }
    }

    /// <summary>Creates the folder and any missing parents as 0700; folders that already exist are left as they are.</summary>
    private static void CreatePrivateFolder(string path)
    {
        if (Directory.Exists(path)) return;
        if (Path.GetDirectoryName(path) is { } parent) CreatePrivateFolder(parent);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        Directory.CreateDirectory(path, PrivateFolder);
        // As with files, the umask could have taken bits away; set the mode outright.
        File.SetUnixFileMode(path, PrivateFolder);
    }
}
