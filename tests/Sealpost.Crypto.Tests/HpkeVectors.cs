using System.Text.Json;

namespace Sealpost.Crypto.Tests;

/// <summary>RFC 9180 appendix A.1, as transcribed in Vectors/hpke-rfc9180-a1.json.</summary>
internal static class HpkeVectors
{
    private static readonly Lazy<JsonElement[]> All = new(() =>
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Vectors", "hpke-rfc9180-a1.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return [.. document.RootElement.EnumerateArray().Select(v => v.Clone())];
    });

    public static IReadOnlyList<JsonElement> Vectors => All.Value;

    public static JsonElement ForMode(int mode) => Vectors.Single(v => v.GetProperty("mode").GetInt32() == mode);

    public static byte[] Hex(this JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? Convert.FromHexString(value.GetString()!) : [];

    public static int Number(this JsonElement element, string name) => int.Parse(element.GetProperty(name).GetString()!);
}
