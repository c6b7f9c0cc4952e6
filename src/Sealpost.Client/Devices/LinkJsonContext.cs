using System.Text.Json.Serialization;

namespace Sealpost.Client.Devices;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LinkSecretPayload))]
internal sealed partial class LinkJsonContext : JsonSerializerContext;
