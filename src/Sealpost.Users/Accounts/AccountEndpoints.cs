using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Sealpost.Crypto;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;
using Sealpost.Users.Devices;
using Sealpost.Users.Passwords;
using Sealpost.Users.Sessions;

namespace Sealpost.Users.Accounts;

public static partial class AccountEndpoints
{
    /// <summary>The device an account is registered with, and its name unless the request gives one.</summary>
    private const string FirstDeviceName = "device 1";

    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var accounts = app.MapGroup("/v1/accounts").WithTags("Accounts");
        accounts.MapPost("/", Register).Accepts<RegisterRequest>("application/json");
        var me = accounts.MapGroup("/me").RequireAuthorization().WithNoStore();
        me.MapGet("", GetMe);
        me.MapPatch("", UpdateMe).Accepts<UpdateAccountRequest>("application/json");
        me.MapDelete("", DeleteMe).Accepts<DeleteAccountRequest>("application/json");
        me.MapPut("/key", RotateKey).Accepts<RotateKeyRequest>("application/json");
        me.MapPut("/identity", SetIdentity).Accepts<SetIdentityRequest>("application/json");
        accounts.MapGet("/{username}", GetPublicRecord);
        accounts.MapGet("/{username}/keys/{keyId:int}", GetKey);
        return app;
    }

    /// <summary>
    /// Nothing is hashed for a request that fails validation or names a taken account, nor beyond the client address's
    /// registrations per hour (counted by the service itself, whatever path reached it).
    /// </summary>
    private static async Task<Results<Created<OwnAccount>, ProblemHttpResult>> Register(HttpRequest request, [AsParameters] AccountServices s, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.RegisterRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var username = AccountFields.Username(errors, body!.Username);
        AccountFields.Password(errors, "password", body.Password);
        var key = AccountFields.PublicKey(errors, body.PublicKey);
        var displayName = AccountFields.DisplayName(errors, body.DisplayName);
        var deviceName = body.DeviceName is null ? FirstDeviceName : AccountFields.DeviceName(errors, "device_name", body.DeviceName);
        byte[]? identity = null, certificate = null;
        if (body.IdentityKey is not null || body.Certificate is not null)
        {
            identity = AccountFields.Bytes(errors, "identity_key", body.IdentityKey, IdentityKey.PublicKeySize, "An Ed25519 public key");
            certificate = AccountFields.Bytes(errors, "certificate", body.Certificate, IdentityKey.SignatureSize, "An Ed25519 signature");
            if (!errors.Any && !DeviceCertificate.Verify(identity, new DeviceKey(username!, 1, 1, key!), certificate))
                errors.Add("certificate", "Does not verify under identity_key for device 1's key id 1 and public_key.");
        }
        if (errors.Any) return errors.ToProblem();
        // The name's existence is public (GET /v1/accounts/{name}), so refusing it before the hash reveals nothing.
        if (await s.Store.NameTakenAsync(username!, ct)) return UsernameTaken();
        var client = request.HttpContext.Connection.RemoteIpAddress;
        if (await s.Registrations.ReserveAsync(client, ct) is { } wait)
        {
            LogRegistrationsLimited(s.Logger, ClientAddress.Of(request.HttpContext));
            request.HttpContext.Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Problems.Of(StatusCodes.Status429TooManyRequests, "rate-limited", "Too many registrations from your address; wait before trying again.");
        }

        string hash;
        try
        {
            hash = await s.Hasher.HashAsync(body.Password!, ct);
        }
        catch
        {
            await s.Registrations.RefundAsync(client, CancellationToken.None);
            throw;
        }
        var created = await s.Store.CreateAsync(Guid.CreateVersion7(), username!, displayName, hash, key!, deviceName!, identity, certificate, ct);
        if (created is null) return UsernameTaken();
        LogRegistered(s.Logger, created.Username, ClientAddress.Of(request.HttpContext));
        return TypedResults.Created($"/v1/accounts/{created.Username}", ToOwn(created));
    }

    private static async Task<Results<Ok<PublicAccount>, ProblemHttpResult>> GetPublicRecord(string username, AccountStore store, CancellationToken ct)
    {
        var normalized = AccountRules.NormalizeUsername(username);
        if (normalized is null) return BadUsername();
        var account = await store.FindAsync(normalized, ct);
        return account is null ? NoSuchAccount() : TypedResults.Ok(ToPublic(account));
    }

    /// <summary>
    /// A key the account's lowest live device had under an older key id, to verify messages sealed before a rotation:
    /// what clients from before linked devices ask (other devices' keys: <c>/devices/{id}/keys/{key id}</c>).
    /// </summary>
    private static async Task<Results<Ok<PublicAccount>, ProblemHttpResult>> GetKey(string username, int keyId, AccountStore store, CancellationToken ct)
    {
        var normalized = AccountRules.NormalizeUsername(username);
        if (normalized is null) return BadUsername();
        var account = await store.FindAsync(normalized, ct);
        var found = account is null ? null : await store.FindKeyAsync(normalized, null, keyId, ct);
        if (found is null) return NoSuchAccount();
        return TypedResults.Ok(ToPublic(account! with { PublicKey = found.PublicKey, KeyId = keyId, KeyChangedAt = found.CreatedAt }));
    }

    /// <summary>
    /// Gives an account made without one its identity key, once, together with a new key for the caller's device that
    /// the identity certified as that device's next key id: a key made before the identity is never bound to it, since
    /// a certificate is a signature over public data and proves nothing about who holds the key (security review H2).
    /// Like a key rotation it ends the device's other sessions, and contacts see it as a key change. Sending the same
    /// identity and key again answers as the first time did (a retried request). Needs the current password.
    /// </summary>
    private static async Task<Results<Ok<DeviceList>, ProblemHttpResult>> SetIdentity(
        HttpRequest request, ClaimsPrincipal user, [AsParameters] AccountServices s, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.SetIdentityRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var identity = AccountFields.Bytes(errors, "identity_key", body!.IdentityKey, IdentityKey.PublicKeySize, "An Ed25519 public key");
        var certificate = AccountFields.Bytes(errors, "certificate", body.Certificate, IdentityKey.SignatureSize, "An Ed25519 signature");
        CurrentPassword(errors, body.CurrentPassword, "Required to set the identity key.");
        var key = body.PublicKey is null ? null : AccountFields.PublicKey(errors, body.PublicKey);
        if (errors.Any) return errors.ToProblem();
        var account = await s.Store.FindAsync(user.Identity!.Name!, ct, CallerClaims.Device(user));
        if (account is null) return NoSuchAccount();
        if (account.IdentityKey is { } existing)
        {
            // A retry of the request that set it: the same identity, and the key it brought is the device's key now.
            var retried = existing.AsSpan().SequenceEqual(identity) && key is not null && account.PublicKey.AsSpan().SequenceEqual(key)
                && DeviceCertificate.Verify(identity, new DeviceKey(account.Username, (uint)account.DeviceId, (uint)account.KeyId, key), certificate);
            return retried ? await DeviceEndpoints.GetPublic(account.Username, s.Store, s.Devices, ct) : IdentityExists();
        }
        if (key is null || account.PublicKey.AsSpan().SequenceEqual(key))
            return Problems.Validation("public_key", $"Required, and new: a first identity key comes with a new key for device {account.DeviceId}, certified as its key id {account.KeyId + 1}; a key made before the identity is never bound to it.");
        if (!DeviceCertificate.Verify(identity, new DeviceKey(account.Username, (uint)account.DeviceId, (uint)account.KeyId + 1, key), certificate))
            return Problems.Validation("certificate", $"Does not verify under identity_key for device {account.DeviceId}'s key id {account.KeyId + 1} and public_key.");
        if (await CheckCurrentPasswordAsync(request, account, body.CurrentPassword!, "identity key", s, ct) is { } refused) return refused;
        var (keyId, ended) = await s.Store.SetFirstIdentityAsync(account.Id, identity!, account.DeviceId, account.KeyId, key, certificate!, CallerClaims.Session(user), ct);
        if (keyId == 0) return Problems.Of(StatusCodes.Status409Conflict, "conflict", "The account's key or identity changed meanwhile; read them again and retry.");
        s.Sessions.Ended(account.Username, ended);
        LogIdentitySet(s.Logger, account.Username, ClientAddress.Of(request.HttpContext));
        return await DeviceEndpoints.GetPublic(account.Username, s.Store, s.Devices, ct);
    }

    /// <summary>The caller's record, with the key of the device it uses (as every <c>/me</c> answer).</summary>
    private static async Task<Results<Ok<OwnAccount>, ProblemHttpResult>> GetMe(ClaimsPrincipal user, AccountStore store, CancellationToken ct)
    {
        var account = await store.FindAsync(user.Identity!.Name!, ct, CallerClaims.Device(user));
        return account is null ? NoSuchAccount() : TypedResults.Ok(ToOwn(account));
    }

    private static async Task<Results<Ok<OwnAccount>, ProblemHttpResult>> UpdateMe(
        HttpRequest request, ClaimsPrincipal user, [AsParameters] AccountServices s, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.UpdateAccountRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var displayName = AccountFields.DisplayName(errors, body!.DisplayName);
        if (body.Password is not null)
        {
            AccountFields.Password(errors, "password", body.Password);
            CurrentPassword(errors, body.CurrentPassword, "Required to change the password.");
        }
        if (errors.Any) return errors.ToProblem();

        var account = await s.Store.FindAsync(user.Identity!.Name!, ct, CallerClaims.Device(user));
        if (account is null) return NoSuchAccount();
        if (body.Password is not null)
        {
            if (await CheckCurrentPasswordAsync(request, account, body.CurrentPassword!, "password change", s, ct) is { } refused) return refused;
            await s.Store.ChangePasswordAsync(account.Id, await s.Hasher.HashAsync(body.Password, ct), ct);
            s.Sessions.Ended(account.Username);
            LogPasswordChanged(s.Logger, account.Username, ClientAddress.Of(request.HttpContext));
        }
        if (body.DisplayName is not null) await s.Store.SetDisplayNameAsync(account.Id, displayName, ct);
        return TypedResults.Ok(ToOwn((await s.Store.FindAsync(account.Username, ct, account.DeviceId))!));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteMe(
        HttpRequest request, ClaimsPrincipal user, [AsParameters] AccountServices s, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.DeleteAccountRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        CurrentPassword(errors, body!.CurrentPassword, "Required to delete the account.");
        if (errors.Any) return errors.ToProblem();
        var account = await s.Store.FindAsync(user.Identity!.Name!, ct);
        if (account is null) return NoSuchAccount();
        if (await CheckCurrentPasswordAsync(request, account, body.CurrentPassword!, "deletion", s, ct) is { } refused) return refused;
        await s.Store.DeleteAsync(account.Id, ct);
        s.Sessions.Ended(account.Username);
        s.Sessions.DevicesChanged(account.Username);
        LogDeleted(s.Logger, account.Username, ClientAddress.Of(request.HttpContext));
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Needs the current password, like a password change: a stolen access token alone must not replace the key
    /// contacts encrypt to. The key is the caller's device's (<c>dev</c>); a new one ends every other session of that
    /// device (other devices keep their own keys); sending the current key again changes nothing, so a retried
    /// rotation is harmless.
    /// </summary>
    private static async Task<Results<Ok<OwnAccount>, ProblemHttpResult>> RotateKey(
        HttpRequest request, ClaimsPrincipal user, [AsParameters] AccountServices s, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.RotateKeyRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var key = AccountFields.PublicKey(errors, body!.PublicKey);
        CurrentPassword(errors, body.CurrentPassword, "Required to change the key.");
        var certificate = body.Certificate is null ? null : AccountFields.Bytes(errors, "certificate", body.Certificate, IdentityKey.SignatureSize, "An Ed25519 signature");
        if (errors.Any) return errors.ToProblem();
        var account = await s.Store.FindAsync(user.Identity!.Name!, ct, CallerClaims.Device(user));
        if (account is null) return NoSuchAccount();
        var rotates = !account.PublicKey.AsSpan().SequenceEqual(key);
        // Once contacts can pin an identity, every new key of the account comes with the identity key's certificate.
        if (rotates && account.IdentityKey is { } identity)
        {
            var next = new DeviceKey(account.Username, (uint)account.DeviceId, (uint)account.KeyId + 1, key!);
            if (certificate is null || !DeviceCertificate.Verify(identity, next, certificate))
            {
                return Problems.Validation("certificate", certificate is null
                    ? $"Required: the account has an identity key; certify the new key as device {account.DeviceId}'s key id {account.KeyId + 1}."
                    : $"Does not verify under the account's identity key for device {account.DeviceId}'s key id {account.KeyId + 1}.");
            }
        }
        else if (rotates && certificate is not null) return Problems.Validation("certificate", "The account has no identity key to verify it; set one first.");
        if (await CheckCurrentPasswordAsync(request, account, body.CurrentPassword!, "key rotation", s, ct) is { } refused) return refused;
        if (rotates)
        {
            var (keyId, ended) = await s.Store.RotateKeyAsync(account.Id, account.DeviceId, account.KeyId, key!, certificate, CallerClaims.Session(user), ct);
            if (keyId == 0) return Problems.Of(StatusCodes.Status409Conflict, "conflict", "The key changed meanwhile; read it again and retry.");
            s.Sessions.Ended(account.Username, ended);
            LogKeyRotated(s.Logger, account.Username, account.DeviceId, keyId, ClientAddress.Of(request.HttpContext), ended.Length);
        }
        return TypedResults.Ok(ToOwn((await s.Store.FindAsync(account.Username, ct, account.DeviceId))!));
    }

    internal static void CurrentPassword(FieldErrors errors, string? value, string required)
    {
        if (value is null) errors.Add("current_password", required);
        else if (value.Length > Limits.PasswordMaxLength * 2) errors.Add("current_password", "Too long.");
    }

    private static Task<ProblemHttpResult?> CheckCurrentPasswordAsync(
        HttpRequest request, AccountRecord account, string currentPassword, string purpose, AccountServices s, CancellationToken ct) =>
        CheckCurrentPasswordAsync(request, account, currentPassword, purpose, s.Passwords, s.Logger, ct);

    /// <summary>The current password, through the throttle like a login; null when it is right, else the answer to give.</summary>
    internal static async Task<ProblemHttpResult?> CheckCurrentPasswordAsync(
        HttpRequest request, AccountRecord account, string currentPassword, string purpose, PasswordCheck passwords, ILogger logger, CancellationToken ct)
    {
        var client = request.HttpContext.Connection.RemoteIpAddress;
        var verdict = await passwords.CheckAsync(account.Username, client, currentPassword, account.PasswordHash, ct);
        if (verdict.Wait is { } wait)
        {
            LogCurrentPasswordThrottled(logger, account.Username, purpose, ClientAddress.Of(request.HttpContext));
            return PasswordCheck.Throttled(request.HttpContext.Response, wait);
        }
        if (verdict.IsRight) return null;
        LogWrongCurrentPassword(logger, account.Username, purpose, ClientAddress.Of(request.HttpContext));
        return Problems.Of(StatusCodes.Status403Forbidden, "wrong-password", "The current password is not right.");
    }

    private static ProblemHttpResult IdentityExists() => Problems.Of(StatusCodes.Status409Conflict, "identity-exists",
        "This account has another identity key already; starting a new identity is not possible yet.");

    private static ProblemHttpResult UsernameTaken() => Problems.Of(StatusCodes.Status409Conflict, "username-taken", "That username is taken.");

    public static ProblemHttpResult BadUsername() => Problems.Validation("username", "3 to 32 characters: letters a-z, digits and underscore.");

    public static ProblemHttpResult NoSuchAccount() => Problems.Of(StatusCodes.Status404NotFound, "not-found", "No such account.");

    private static PublicAccount ToPublic(AccountRecord a) =>
        new(a.Username, a.DisplayName, AccountRules.EncodePublicKey(a.PublicKey), a.KeyId, a.KeyChangedAt, Fingerprint.Of(a.PublicKey));

    private static OwnAccount ToOwn(AccountRecord a) =>
        new(a.Username, a.DisplayName, AccountRules.EncodePublicKey(a.PublicKey), a.KeyId, a.KeyChangedAt, Fingerprint.Of(a.PublicKey), a.CreatedAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Account {Username} registered from {ClientAddress}")]
    private static partial void LogRegistered(ILogger logger, string username, string clientAddress);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Registration refused from {ClientAddress}: too many from the address this hour")]
    private static partial void LogRegistrationsLimited(ILogger logger, string clientAddress);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wrong current password for {Username} ({Purpose}) from {ClientAddress}")]
    private static partial void LogWrongCurrentPassword(ILogger logger, string username, string purpose, string clientAddress);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Current password for {Username} ({Purpose}) throttled from {ClientAddress}")]
    private static partial void LogCurrentPasswordThrottled(ILogger logger, string username, string purpose, string clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Password changed for {Username} from {ClientAddress}; every session ended")]
    private static partial void LogPasswordChanged(ILogger logger, string username, string clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Account {Username} deleted from {ClientAddress}; every session ended")]
    private static partial void LogDeleted(ILogger logger, string username, string clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Identity key set for {Username} from {ClientAddress}")]
    private static partial void LogIdentitySet(ILogger logger, string username, string clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Key rotated for {Username} to key id {KeyId} of device {DeviceId} from {ClientAddress}; {EndedSessions} other sessions of the device ended")]
    private static partial void LogKeyRotated(ILogger logger, string username, int deviceId, int keyId, string clientAddress, int endedSessions);
}
