using System.Net;
using System.Net.Sockets;

namespace Sealpost.ServiceDefaults;

/// <summary>The key a per-client-address limit counts under (the login throttle's and the registration limit's).</summary>
public static class AddressSubject
{
    /// <summary>
    /// '@' and the IPv4 address (an IPv4-mapped IPv6 address counts as the IPv4 address it carries), or '@' and the /64
    /// of an IPv6 address: one subscriber is usually given a whole /64, so counting each of its 2^64 addresses apart
    /// would lift every limit (security review L5). HAProxy's stick tables key the same way (<c>ipmask(32,64)</c>).
    /// </summary>
    public static string Of(IPAddress client)
    {
        if (client.IsIPv4MappedToIPv6) return "@" + client.MapToIPv4();
        if (client.AddressFamily != AddressFamily.InterNetworkV6) return "@" + client;
        var bytes = client.GetAddressBytes();
        bytes.AsSpan(8).Clear();
        return "@" + new IPAddress(bytes) + "/64";
    }
}
