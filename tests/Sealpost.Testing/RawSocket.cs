using System.Net.WebSockets;
using System.Text;

namespace Sealpost.Testing;

/// <summary>
/// A <see cref="ProtocolClient"/>'s escape hatch for hostile tests: whatever bytes, text or binary, in one message or
/// in fragments, and the server's frames as they came. Writes share the client's one writer; reads take from the same
/// inbox as the typed ones.
/// </summary>
public sealed class RawSocket
{
    private readonly ProtocolClient _client;

    internal RawSocket(ProtocolClient client) => _client = client;

    public Task SendTextAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    /// <summary>Sends <paramref name="bytes"/> as they are; <paramref name="endOfMessage"/> false leaves the message open for the next fragment.</summary>
    public Task SendAsync(ReadOnlyMemory<byte> bytes, WebSocketMessageType type, bool endOfMessage = true) =>
        _client.WriteAsync(bytes, type, endOfMessage, CancellationToken.None);

    /// <summary>The next frame, unparsed; fails after the timeout.</summary>
    public Task<RawFrame> NextAsync(TimeSpan? timeout = null) => _client.NextRawAsync(timeout);
}
