using System.Net.WebSockets;
using System.Text;

namespace Sealpost.Testing;

/// <summary>One WebSocket message as the server sent it, before any parsing.</summary>
public sealed record RawFrame(WebSocketMessageType Type, byte[] Bytes)
{
    public string Text => Encoding.UTF8.GetString(Bytes);
}
