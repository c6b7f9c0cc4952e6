using System.Globalization;
using System.Text;

namespace Sealpost.Cli;

/// <summary>
/// Makes text from others (decrypted messages, names, file names, the server's words) safe to print on a terminal:
/// control characters, line separators and bidi controls are shown escaped (<c>\x1b</c>, <c>\u202e</c>), so a sender
/// cannot recolour the screen, retitle the window, move the cursor or reorder what is shown.
/// </summary>
public static class TerminalText
{
    /// <summary>Escapes everything that is not plain printable text; newlines become <c>\n</c> too.</summary>
    public static string Escape(string? text) => Escape(text, newline: null);

    /// <summary>
    /// As <see cref="Escape(string?)"/>, but a newline stays a line break, followed by <paramref name="indent"/>
    /// (four spaces by default, so no line of a message can pass for a line of the CLI's own).
    /// </summary>
    public static string EscapeLines(string? text, string indent = "    ") => Escape(text, newline: "\n" + indent);

    private static string Escape(string? text, string? newline)
    {
        var multiline = newline is not null;
        if (string.IsNullOrEmpty(text)) return text ?? "";
        if (!NeedsEscaping(text)) return text;
        var result = new StringBuilder(text.Length + 16);
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value == '\n' && multiline) result.Append(newline);
            else if (rune.Value == '\t') result.Append('\t');
            else if (IsUnsafe(rune)) result.Append(rune.Value < 0x100
                ? string.Create(CultureInfo.InvariantCulture, $"\\x{rune.Value:x2}")
                : string.Create(CultureInfo.InvariantCulture, $"\\u{rune.Value:x4}"));
            else result.Append(rune.ToString());
        }
        return result.ToString();
    }

    private static bool NeedsEscaping(string text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value != '\t' && IsUnsafe(rune)) return true;
        }
        return false;
    }

    /// <summary>
    /// C0 and C1 controls (ESC among them), DEL, line and paragraph separators, and the bidi marks, embeddings, overrides
    /// and isolates. Other format characters (the zero-width joiner of emoji sequences) are harmless and stay.
    /// </summary>
    internal static bool IsUnsafe(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
        || rune.Value is 0x061C or 0x200E or 0x200F or (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069);
}
