using System.Text.Json;

namespace Sealpost.Crypto.Tests;

/// <summary>A worked example's values (a fixed-ikm vector in Vectors/) and the doc page that shows them.</summary>
internal sealed class ExampleVector(string vector, string doc)
{
    private readonly JsonElement _values = Load(vector);

    public string Doc { get; } = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", doc));

    public string Text(string name) =>
        _values.GetProperty(name).ValueKind == JsonValueKind.Number ? _values.GetProperty(name).GetRawText() : _values.GetProperty(name).GetString()!;

    public string? TextOrNull(string name) => _values.TryGetProperty(name, out _) ? Text(name) : null;

    public byte[] Hex(string name) => Convert.FromHexString(Text(name));

    public uint Number(string name) => _values.GetProperty(name).GetUInt32();

    private static JsonElement Load(string vector)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", vector)));
        return document.RootElement.Clone();
    }
}
