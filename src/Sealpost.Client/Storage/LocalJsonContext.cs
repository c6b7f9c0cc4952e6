using System.Text.Json.Serialization;

namespace Sealpost.Client.Storage;

/// <summary>The profile's JSON documents, as they have always been written (snake_case, indented, nulls left out).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(ClientConfig))]
[JsonSerializable(typeof(AccountState))]
[JsonSerializable(typeof(SessionState))]
[JsonSerializable(typeof(ContactsDocument))]
[JsonSerializable(typeof(HistoryDocument))]
internal sealed partial class LocalJsonContext : JsonSerializerContext;
