namespace Sealpost.Crypto.Tests;

/// <summary>Link codes as a person moves them by hand (docs/devices.md, "The link code"): a typo anywhere is caught before anything is approved.</summary>
public class LinkCodeTests
{
    private static readonly LinkCode Code = LinkCode.For("alice_2", Guid.NewGuid().ToString(), X25519KeyPair.Generate().PublicKey, X25519KeyPair.Generate().PublicKey);

    /// <summary>What a person's slip makes of one character: a neighbour, the other case, a digit, a separator.</summary>
    private static IEnumerable<char> Slips(char c)
    {
        foreach (var other in new[] { (char)(c + 1), (char)(c - 1), char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c), '0', 'A', '-', '_', ':', '&' })
            if (other != c && other > ' ' && other < 127) yield return other;
    }

    public static TheoryData<string> Forms => ["text", "uri"];

    /// <summary>Issue 28: one character of the link key changed was approved, and linked a device that could never open its secret.</summary>
    [Theory]
    [MemberData(nameof(Forms))]
    public void Every_single_character_change_is_refused_as_mistyped(string form)
    {
        var text = form == "text" ? Code.ToString() : Code.ToUri();
        var accepted = new List<string>();
        for (var i = 0; i < text.Length; i++)
        {
            var typos = Slips(text[i]).Distinct().Select(slip => string.Concat(text.AsSpan(0, i), slip.ToString(), text.AsSpan(i + 1)))
                .Append(text.Remove(i, 1))                     // dropped
                .Append(text.Insert(i, text[i].ToString()));   // doubled
            foreach (var typo in typos)
            {
                try
                {
                    LinkCode.Parse(typo);
                    accepted.Add($"position {i}: {typo}");
                }
                catch (FormatException e)
                {
                    Assert.Contains("mistyped", e.Message, StringComparison.Ordinal);
                }
            }
        }
        Assert.True(accepted.Count == 0, $"{accepted.Count} typos of {text} were accepted, e.g. {string.Join("; ", accepted.Take(5))}");
        Assert.Equal(Code.Fields, LinkCode.Parse(text).Fields);
    }
}
