namespace Sealpost.Protocol;

/// <summary>The users service's token-verification keys (RFC 7517), as served at <c>/.well-known/jwks.json</c>.</summary>
public sealed record JsonWebKeySetDocument(IReadOnlyList<EcPublicJwk> Keys);

public sealed record EcPublicJwk(string Kty, string Crv, string X, string Y, string Kid, string Use, string Alg);

/// <summary>What an access token carries besides <c>sub</c> (the username): minted by the users service, read by both.</summary>
public static class TokenClaims
{
    /// <summary>The session the token belongs to (a UUID): when it ends, sockets opened with its tokens close.</summary>
    public const string Session = "sid";

    /// <summary>The device the session belongs to (an integer, as a string); tokens without it are device 1's.</summary>
    public const string Device = "dev";
}
