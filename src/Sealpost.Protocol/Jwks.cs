namespace Sealpost.Protocol;

/// <summary>The users service's token-verification keys (RFC 7517), as served at <c>/.well-known/jwks.json</c>.</summary>
public sealed record JsonWebKeySetDocument(IReadOnlyList<EcPublicJwk> Keys);

public sealed record EcPublicJwk(string Kty, string Crv, string X, string Y, string Kid, string Use, string Alg);
