using Microsoft.Extensions.Options;
using Sealpost.Users.Accounts;
using Sealpost.Users.Sessions;

namespace Sealpost.Users.Links;

/// <summary>What the link routes need, bundled with <c>[AsParameters]</c>.</summary>
public sealed record LinkServices(
    LinkStore Links, AccountStore Accounts, TokenIssuer Issuer, TokenOptions Tokens, SessionEvents Events, IOptions<LinkingOptions> Options, ILogger<LinkStore> Logger);
