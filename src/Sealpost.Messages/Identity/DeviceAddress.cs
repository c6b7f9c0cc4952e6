using System.Globalization;

namespace Sealpost.Messages.Identity;

/// <summary>
/// The name a device goes by inside the messages service: its mailbox, its sockets, its bus channel and the sender of
/// what it sends. Device 1 is the bare username (so every mailbox from before linked devices is device 1's, and a
/// one-device account costs nothing extra); device <c>n</c> &gt; 1 is <c>username/n</c>. A username never holds '/'.
/// </summary>
internal static class DeviceAddress
{
    public const int FirstDevice = 1;

    public static string Of(string username, int device) =>
        device == FirstDevice ? username : string.Concat(username, "/", device.ToString(CultureInfo.InvariantCulture));

    /// <summary>The username and the device of an address.</summary>
    public static (string Username, int Device) Parse(string address)
    {
        var slash = address.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? (address, FirstDevice) : (address[..slash], int.Parse(address.AsSpan(slash + 1), CultureInfo.InvariantCulture));
    }

    /// <summary>Whether <paramref name="address"/> is one of <paramref name="username"/>'s devices.</summary>
    public static bool Belongs(string address, string username) =>
        address.StartsWith(username, StringComparison.Ordinal) && (address.Length == username.Length || address[username.Length] == '/');
}
