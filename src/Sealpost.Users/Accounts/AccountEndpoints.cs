using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Sealpost.Crypto;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;
using Sealpost.Users.Passwords;

namespace Sealpost.Users.Accounts;

public static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var accounts = app.MapGroup("/v1/accounts").WithTags("Accounts");
        accounts.MapPost("/", Register).Accepts<RegisterRequest>("application/json");
        accounts.MapGet("/me", GetMe).RequireAuthorization();
        accounts.MapPatch("/me", UpdateMe).Accepts<UpdateAccountRequest>("application/json").RequireAuthorization();
        accounts.MapDelete("/me", DeleteMe).Accepts<DeleteAccountRequest>("application/json").RequireAuthorization();
        accounts.MapPut("/me/key", RotateKey).Accepts<RotateKeyRequest>("application/json").RequireAuthorization();
        accounts.MapGet("/{username}", GetPublicRecord);
        accounts.MapGet("/{username}/keys/{keyId:int}", GetKey);
        return app;
    }

    private static async Task<Results<Created<OwnAccount>, ProblemHttpResult>> Register(
        HttpRequest request, AccountStore store, PasswordHasher hasher, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.RegisterRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var username = AccountFields.Username(errors, body!.Username);
        AccountFields.Password(errors, "password", body.Password);
        var key = AccountFields.PublicKey(errors, body.PublicKey);
        var displayName = AccountFields.DisplayName(errors, body.DisplayName);
        if (errors.Any) return errors.ToProblem();

        var created = await store.CreateAsync(Guid.CreateVersion7(), username!, displayName, hasher.Hash(body.Password!), key!, ct);
        if (created is null) return Problems.Of(StatusCodes.Status409Conflict, "username-taken", "That username is taken.");
        return TypedResults.Created($"/v1/accounts/{created.Username}", ToOwn(created));
    }

    private static async Task<Results<Ok<PublicAccount>, ProblemHttpResult>> GetPublicRecord(string username, AccountStore store, CancellationToken ct)
    {
        var normalized = AccountRules.NormalizeUsername(username);
        if (normalized is null) return Problems.Validation("username", "3 to 32 characters: letters a-z, digits and underscore.");
        var account = await store.FindAsync(normalized, ct);
        return account is null ? NoSuchAccount() : TypedResults.Ok(ToPublic(account));
    }

    /// <summary>A key the account had under an older key id, to verify messages sealed before a rotation.</summary>
    private static async Task<Results<Ok<PublicAccount>, ProblemHttpResult>> GetKey(string username, int keyId, AccountStore store, CancellationToken ct)
    {
        var normalized = AccountRules.NormalizeUsername(username);
        if (normalized is null) return Problems.Validation("username", "3 to 32 characters: letters a-z, digits and underscore.");
        var account = await store.FindAsync(normalized, ct);
        var key = account is null ? null : await store.FindKeyAsync(normalized, keyId, ct);
        if (key is not { } found) return NoSuchAccount();
        return TypedResults.Ok(ToPublic(account! with { PublicKey = found.PublicKey, KeyId = keyId, KeyChangedAt = found.CreatedAt }));
    }

    private static async Task<Results<Ok<OwnAccount>, ProblemHttpResult>> GetMe(ClaimsPrincipal user, AccountStore store, CancellationToken ct)
    {
        var account = await store.FindAsync(user.Identity!.Name!, ct);
        return account is null ? NoSuchAccount() : TypedResults.Ok(ToOwn(account));
    }

    private static async Task<Results<Ok<OwnAccount>, ProblemHttpResult>> UpdateMe(
        HttpRequest request, ClaimsPrincipal user, AccountStore store, PasswordHasher hasher, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.UpdateAccountRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var displayName = AccountFields.DisplayName(errors, body!.DisplayName);
        if (body.Password is not null)
        {
            AccountFields.Password(errors, "password", body.Password);
            if (body.CurrentPassword is null) errors.Add("current_password", "Required to change the password.");
        }
        if (errors.Any) return errors.ToProblem();

        var account = await store.FindAsync(user.Identity!.Name!, ct);
        if (account is null) return NoSuchAccount();
        if (body.Password is not null)
        {
            if (!hasher.Verify(body.CurrentPassword!, account.PasswordHash)) return WrongPassword();
            await store.ChangePasswordAsync(account.Id, hasher.Hash(body.Password), ct);
        }
        if (body.DisplayName is not null) await store.SetDisplayNameAsync(account.Id, displayName, ct);
        return TypedResults.Ok(ToOwn((await store.FindAsync(account.Username, ct))!));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteMe(
        HttpRequest request, ClaimsPrincipal user, AccountStore store, PasswordHasher hasher, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.DeleteAccountRequest, ct);
        if (problem is not null) return problem;
        if (body!.CurrentPassword is null) return Problems.Validation("current_password", "Required to delete the account.");
        var account = await store.FindAsync(user.Identity!.Name!, ct);
        if (account is null) return NoSuchAccount();
        if (!hasher.Verify(body.CurrentPassword, account.PasswordHash)) return WrongPassword();
        await store.DeleteAsync(account.Id, ct);
        return TypedResults.NoContent();
    }

    /// <summary>Sending the current key again changes nothing, so a retried rotation is harmless.</summary>
    private static async Task<Results<Ok<OwnAccount>, ProblemHttpResult>> RotateKey(
        HttpRequest request, ClaimsPrincipal user, AccountStore store, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, SealpostJsonContext.Default.RotateKeyRequest, ct);
        if (problem is not null) return problem;
        var errors = new FieldErrors();
        var key = AccountFields.PublicKey(errors, body!.PublicKey);
        if (errors.Any) return errors.ToProblem();
        var account = await store.FindAsync(user.Identity!.Name!, ct);
        if (account is null) return NoSuchAccount();
        if (!account.PublicKey.AsSpan().SequenceEqual(key)) await store.RotateKeyAsync(account.Id, key!, ct);
        return TypedResults.Ok(ToOwn((await store.FindAsync(account.Username, ct))!));
    }

    private static ProblemHttpResult NoSuchAccount() => Problems.Of(StatusCodes.Status404NotFound, "not-found", "No such account.");

    private static ProblemHttpResult WrongPassword() =>
        Problems.Of(StatusCodes.Status403Forbidden, "wrong-password", "The current password is not right.");

    private static PublicAccount ToPublic(AccountRecord a) =>
        new(a.Username, a.DisplayName, AccountRules.EncodePublicKey(a.PublicKey), a.KeyId, a.KeyChangedAt, Fingerprint.Of(a.PublicKey));

    private static OwnAccount ToOwn(AccountRecord a) =>
        new(a.Username, a.DisplayName, AccountRules.EncodePublicKey(a.PublicKey), a.KeyId, a.KeyChangedAt, Fingerprint.Of(a.PublicKey), a.CreatedAt);
}
