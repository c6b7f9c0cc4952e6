namespace Sealpost.Client.Messaging;

/// <summary>Where the message socket stands.</summary>
public enum ConnectionState
{
    /// <summary>Not opened yet: it opens on the first send or receive, or with <see cref="MessageClient.ConnectAsync"/>.</summary>
    Disconnected,

    /// <summary>Opening for the first time.</summary>
    Connecting,

    /// <summary>Open: messages arrive and sends go out.</summary>
    Connected,

    /// <summary>Lost, and being opened again; sends wait and go out once it is back.</summary>
    Reconnecting,

    /// <summary>Closed for good: the client was disposed, or the socket failed in a way it does not recover from.</summary>
    Closed,
}
