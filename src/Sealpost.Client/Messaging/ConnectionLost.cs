namespace Sealpost.Client.Messaging;

/// <summary>
/// Why the message socket is down and when the next attempt is: either the socket closed (<see cref="CloseStatus"/>,
/// null when it dropped without a close, with <see cref="CloseReason"/> if the server gave one), or an attempt to open
/// it again failed (<see cref="Error"/>).
/// </summary>
/// <param name="CloseStatus">The WebSocket close status: 1001 an instance going away, 4401 an expired token; null when it just dropped.</param>
/// <param name="CloseReason">The server's words for the close, as it sent them but for control characters, at most 200 characters.</param>
/// <param name="Error">Why an attempt to open the socket again failed.</param>
/// <param name="RetryIn">How long until the next attempt.</param>
public sealed record ConnectionLost(int? CloseStatus, string? CloseReason, SealpostException? Error, TimeSpan RetryIn);
