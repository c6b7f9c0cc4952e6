using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Sealpost.Messages.Tests.Hosting;
using Sealpost.Testing;

namespace Sealpost.Messages.Tests;

/// <summary>Two in-process messages instances and a users instance, shared by the socket test classes of this project.</summary>
[CollectionDefinition(Name)]
public sealed class HostsCollection : ICollectionFixture<MessagesHosts>
{
    public const string Name = "hosts";
}

internal static class Mailbox
{
    public static string Body(int size = 64) => Convert.ToBase64String(RandomNumberGenerator.GetBytes(size));
}

/// <summary>Mints access tokens with the users service's real signing key, for lifetimes the service would not issue.</summary>
internal static class Tokens
{
    /// <summary>A token for <paramref name="user"/>'s own (live) session, expiring after <paramref name="lifetime"/>.</summary>
    public static string Mint(UsersCluster users, TestUser user, TimeSpan lifetime)
    {
        var sid = new JsonWebToken(user.AccessToken).GetClaim("sid").Value;
        // Not disposed: the token handler caches a signer per key id.
        var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(File.ReadAllText(users.SigningKeyPath));
        var key = new ECDsaSecurityKey(ecdsa) { KeyId = Kid(users) };
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "sealpost-users",
            Audience = "sealpost",
            IssuedAt = now.AddMinutes(-1),
            NotBefore = now.AddMinutes(-1),
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256),
            Subject = new ClaimsIdentity([new Claim("sub", user.Username), new Claim("sid", sid)]),
        });
    }

    private static string Kid(UsersCluster users)
    {
        using var http = new HttpClient { BaseAddress = users.Instances[0].BaseAddress };
        var jwks = System.Text.Json.JsonDocument.Parse(http.GetStringAsync(".well-known/jwks.json").GetAwaiter().GetResult());
        return jwks.RootElement.GetProperty("keys")[0].GetProperty("kid").GetString()!;
    }
}
