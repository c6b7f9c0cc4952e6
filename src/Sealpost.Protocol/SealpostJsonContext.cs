using System.Text.Json.Serialization;

namespace Sealpost.Protocol;

/// <summary>Source-generated JSON for every wire type: snake_case names, nulls left out.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowTrailingCommas = false,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow,
    MaxDepth = 8)]
[JsonSerializable(typeof(RegisterRequest))]
[JsonSerializable(typeof(LoginRequest))]
[JsonSerializable(typeof(RefreshRequest))]
[JsonSerializable(typeof(SessionResponse))]
[JsonSerializable(typeof(PublicAccount))]
[JsonSerializable(typeof(OwnAccount))]
[JsonSerializable(typeof(UpdateAccountRequest))]
[JsonSerializable(typeof(RotateKeyRequest))]
[JsonSerializable(typeof(SetIdentityRequest))]
[JsonSerializable(typeof(DeviceList))]
[JsonSerializable(typeof(OwnDeviceList))]
[JsonSerializable(typeof(RenameDeviceRequest))]
[JsonSerializable(typeof(RemoveDeviceRequest))]
[JsonSerializable(typeof(CreateLinkRequest))]
[JsonSerializable(typeof(CreatedLink))]
[JsonSerializable(typeof(PendingLink))]
[JsonSerializable(typeof(ApproveLinkRequest))]
[JsonSerializable(typeof(PollLinkRequest))]
[JsonSerializable(typeof(LinkStatus))]
[JsonSerializable(typeof(DevicesChanged))]
[JsonSerializable(typeof(DeleteAccountRequest))]
[JsonSerializable(typeof(SessionsEnded))]
[JsonSerializable(typeof(ClientFrame))]
[JsonSerializable(typeof(ServerFrame))]
[JsonSerializable(typeof(SendFrame))]
[JsonSerializable(typeof(DeviceEnvelope))]
[JsonSerializable(typeof(AcceptedFrame))]
[JsonSerializable(typeof(MessageFrame))]
[JsonSerializable(typeof(AckFrame))]
[JsonSerializable(typeof(ErrorFrame))]
[JsonSerializable(typeof(AuthFrame))]
[JsonSerializable(typeof(AuthenticatedFrame))]
[JsonSerializable(typeof(SyncedFrame))]
[JsonSerializable(typeof(JsonWebKeySetDocument))]
public sealed partial class SealpostJsonContext : JsonSerializerContext;
