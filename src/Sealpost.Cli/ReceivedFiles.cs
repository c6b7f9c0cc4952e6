using System.Text;
using Sealpost.Client;

namespace Sealpost.Cli;

/// <summary>
/// Saves files that arrived in messages into the folder the user chose: never over an existing file, never outside
/// that folder, under a name stripped of path separators, control characters and leading dots.
/// </summary>
public static class ReceivedFiles
{
    private const int MaxNameBytes = 200;

    /// <summary>The sender's name made safe as one path component: no separators, no controls, no "..", not hidden.</summary>
    public static string SafeName(string? name)
    {
        var safe = new StringBuilder();
        foreach (var rune in (name ?? "").EnumerateRunes())
        {
            var replace = rune.Value is '/' or '\\' or ':' || TerminalText.IsUnsafe(rune) || Rune.GetUnicodeCategory(rune) == System.Globalization.UnicodeCategory.Format;
            if (Encoding.UTF8.GetByteCount(safe.ToString()) + rune.Utf8SequenceLength > MaxNameBytes) break;
            safe.Append(replace ? "_" : rune.ToString());
        }
        var trimmed = safe.ToString().Trim().TrimStart('.').TrimEnd('.', ' ');
        return trimmed.Length == 0 ? "file" : trimmed;
    }

    /// <summary>Writes the file (mode 0600) as <c>name</c>, else <c>name (1)</c>, <c>name (2)</c>…; returns the path written.</summary>
    public static string Save(string folder, string? name, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var root = Path.GetFullPath(folder);
        var safe = SafeName(name);
        var stem = Path.GetFileNameWithoutExtension(safe);
        var extension = Path.GetExtension(safe);
        for (var n = 0; n < 1000; n++)
        {
            var candidate = n == 0 ? safe : $"{stem} ({n}){extension}";
            var path = Path.Join(root, candidate);
            // SafeName already rules it out; this is the check that matters if SafeName ever has a hole.
            if (Path.GetDirectoryName(Path.GetFullPath(path)) != root.TrimEnd(Path.DirectorySeparatorChar) || Path.GetFileName(path) != candidate)
                throw new CliException(ErrorKind.Invalid, "A received file name would leave the folder; it was not saved.");
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            try
            {
                // CreateNew is O_CREAT|O_EXCL: it refuses an existing file and does not follow a symbolic link planted there.
                using var stream = new FileStream(path, options);
                stream.Write(data);
                return path;
            }
            catch (IOException) when (Taken(path))
            {
                // Someone's file: try the next name.
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException(ErrorKind.Invalid, $"Cannot save a received file into '{root}': {e.Message}", e);
            }
        }
        throw new CliException(ErrorKind.Invalid, $"'{root}' already holds 1000 files named like {safe}; the file was not saved.");
    }

    private static bool Taken(string path) => File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null;
}
