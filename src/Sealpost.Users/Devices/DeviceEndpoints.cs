using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;
using Sealpost.Users.Accounts;
using Sealpost.Users.Sessions;

namespace Sealpost.Users.Devices;

/// <summary>An account's devices (docs/devices.md): the public directory senders verify, and the owner's own list.</summary>
public static partial class DeviceEndpoints
{
    public static IEndpointRouteBuilder MapDeviceEndpoints(this IEndpointRouteBuilder app)
    {
        var accounts = app.MapGroup("/v1/accounts").WithTags("Devices");
        var mine = accounts.MapGroup("/me/devices").RequireAuthorization().WithNoStore();
        mine.MapGet("", GetOwn);
        mine.MapPatch("/{deviceId}", Rename).Accepts<RenameDeviceRequest>("application/json");
        mine.MapDelete("/{deviceId}", Remove);
        accounts.MapGet("/{username}/devices", GetPublic);
        accounts.MapGet("/{username}/devices/{deviceId}/keys/{keyId}", GetKey);
        return app;
    }

    /// <summary>The identity key and each live device's current key with its certificate: what a sender verifies.</summary>
    public static async Task<Results<Ok<DeviceList>, ProblemHttpResult>> GetPublic(string username, AccountStore accounts, DeviceStore devices, CancellationToken ct)
    {
        var normalized = AccountRules.NormalizeUsername(username);
        if (normalized is null) return AccountEndpoints.BadUsername();
        var a = await accounts.FindAsync(normalized, ct);
        if (a is null) return AccountEndpoints.NoSuchAccount();
        var list = await devices.ListAsync(a.Id, ct);
        return TypedResults.Ok(new DeviceList(a.Username, Encode(a.IdentityKey), [.. list.Select(d => ToPublic(d.Key))]));
    }

    /// <summary>A key a device has or had, removed devices included: messages it sealed before must still verify.</summary>
    private static async Task<Results<Ok<PublicDevice>, ProblemHttpResult>> GetKey(string username, string deviceId, string keyId, AccountStore accounts, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var normalized = AccountFields.Username(errors, username);
        var device = AccountFields.Id(errors, "device_id", deviceId);
        var key = AccountFields.Id(errors, "key_id", keyId);
        if (errors.Any) return errors.ToProblem();
        var found = await accounts.FindKeyAsync(normalized!, device, key!.Value, ct);
        return found is null ? Problems.Of(StatusCodes.Status404NotFound, "not-found", "No such account, device or key.") : TypedResults.Ok(ToPublic(found));
    }

    private static async Task<Results<Ok<OwnDeviceList>, ProblemHttpResult>> GetOwn(ClaimsPrincipal user, AccountStore accounts, DeviceStore devices, CancellationToken ct)
    {
        var a = await accounts.FindAsync(user.Identity!.Name!, ct);
        if (a is null) return AccountEndpoints.NoSuchAccount();
        var list = await devices.ListAsync(a.Id, ct);
        return TypedResults.Ok(new OwnDeviceList(a.Username, Encode(a.IdentityKey), CallerClaims.Device(user), [.. list.Select(ToOwn)]));
    }

    private static async Task<Results<Ok<OwnDevice>, ProblemHttpResult>> Rename(
        string deviceId, HttpRequest request, ClaimsPrincipal user, [AsParameters] DeviceServices s, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.RenameDeviceRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var id = AccountFields.Id(errors, "device_id", deviceId);
        var name = AccountFields.DeviceName(errors, "name", body!.Name);
        if (errors.Any) return errors.ToProblem();
        var a = await s.Accounts.FindAsync(user.Identity!.Name!, ct);
        if (a is null) return AccountEndpoints.NoSuchAccount();
        var renamed = await s.Devices.RenameAsync(a.Id, id!.Value, name!, ct);
        return renamed is null ? NoSuchDevice() : TypedResults.Ok(ToOwn(renamed));
    }

    /// <summary>
    /// Removes another device of the account: its sessions end (and its sockets close), its mailbox goes, it leaves the
    /// directory, and its keys stay readable. The device in use cannot remove itself: an account always keeps a device.
    /// Needs the current password, like every change to what contacts trust: a device's access token alone (stolen,
    /// or any device of the account) must not cut the others off (security review M4).
    /// </summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> Remove(
        string deviceId, HttpRequest request, ClaimsPrincipal user, [AsParameters] DeviceServices s, CancellationToken ct)
    {
        // Clients from before the password was asked send no body: they hear that current_password is missing.
        var body = new RemoveDeviceRequest(null);
        if (request.ContentType is not null || request.ContentLength is > 0)
        {
            (var read, var problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.RemoveDeviceRequest, ct);
            if (problem is not null) return problem;
            body = read!;
        }
        var errors = new FieldErrors();
        var id = AccountFields.Id(errors, "device_id", deviceId);
        AccountEndpoints.CurrentPassword(errors, body.CurrentPassword, "Required to remove a device.");
        if (errors.Any) return errors.ToProblem();
        var caller = CallerClaims.Device(user);
        if (id == caller)
        {
            return Problems.Of(StatusCodes.Status409Conflict, "current-device", "This is the device you are using.",
                "Remove it from another device of the account, or log out.");
        }
        var a = await s.Accounts.FindAsync(user.Identity!.Name!, ct);
        if (a is null) return AccountEndpoints.NoSuchAccount();
        if (await AccountEndpoints.CheckCurrentPasswordAsync(request, a, body.CurrentPassword!, "device removal", s.Passwords, s.Logger, ct) is { } refused) return refused;
        if (await s.Devices.RemoveAsync(a.Id, caller, id!.Value, ct) is not { } ended) return NoSuchDevice();
        s.Events.Ended(a.Username, ended);
        s.Events.DevicesChanged(a.Username, removed: id.Value);
        LogRemoved(s.Logger, a.Username, id.Value, caller, ClientAddress.Of(request.HttpContext), ended.Length);
        return TypedResults.NoContent();
    }

    public static ProblemHttpResult NoSuchDevice() =>
        Problems.Of(StatusCodes.Status404NotFound, "no-such-device", "The account has no such device, or it was removed.");

    private static PublicDevice ToPublic(DeviceKeyRecord k) => new(k.DeviceId, k.KeyId, AccountRules.EncodePublicKey(k.PublicKey), Encode(k.Certificate));

    private static OwnDevice ToOwn(DeviceRecord d) =>
        new(d.Key.DeviceId, d.Name, d.Key.KeyId, AccountRules.EncodePublicKey(d.Key.PublicKey), Encode(d.Key.Certificate), d.CreatedAt);

    private static string? Encode(byte[]? bytes) => bytes is null ? null : AccountRules.EncodePublicKey(bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId} of {Username} removed by device {CallerDeviceId} from {ClientAddress}; {EndedSessions} sessions ended")]
    private static partial void LogRemoved(ILogger logger, string username, int deviceId, int callerDeviceId, string clientAddress, int endedSessions);
}
