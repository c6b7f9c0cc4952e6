namespace Sealpost.Users;

/// <summary>The client's address for logs: HAProxy's X-Forwarded-For (set from the connection's source), else the peer.</summary>
internal static class ClientAddress
{
    public static string Of(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
}
