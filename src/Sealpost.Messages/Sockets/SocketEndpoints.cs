using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Sealpost.Messages.Identity;
using Sealpost.ServiceDefaults;

namespace Sealpost.Messages.Sockets;

internal static partial class SocketEndpoints
{
    public static IEndpointRouteBuilder MapSocketEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/ws", Connect).WithTags("Messages");
        return app;
    }

    /// <summary>Checks origin and token before the upgrade, so a refused client gets a plain HTTP status and a problem body.</summary>
    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> Connect(
        HttpContext http, TokenValidator tokens, DeviceDirectory directory, LiveSessions sessions, IOptions<SocketOptions> socketOptions, ILogger<SocketConnection> logger,
        IHostApplicationLifetime lifetime)
    {
        var options = socketOptions.Value;
        if (!http.WebSockets.IsWebSocketRequest)
            return Problems.Of(StatusCodes.Status400BadRequest, "websocket-required", "This endpoint speaks WebSocket only.");
        var origin = http.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && !options.AllowedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase))
            return Problems.Of(StatusCodes.Status403Forbidden, "origin-not-allowed", "This origin may not open a socket.");

        var header = http.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : http.Request.Query["access_token"].ToString();
        if (await tokens.ValidateAsync(token, http.RequestAborted) is not { } identity)
        {
            LogRefused(logger, http.Connection.RemoteIpAddress?.ToString() ?? "unknown");
            return Problems.Of(StatusCodes.Status401Unauthorized, "unauthorized", "A valid access token is required.",
                "Send Authorization: Bearer <access_token>, or ?access_token= from a browser.");
        }

        if (!await IsLiveDeviceAsync(directory, identity, http.RequestAborted))
        {
            LogDeviceRefused(logger, identity.Username, identity.Device);
            return Problems.Of(StatusCodes.Status401Unauthorized, "device-removed", "This device was removed from the account.",
                "Link it again from one of the account's devices.");
        }

        if (!await sessions.IsLiveAsync(token, identity, http.RequestAborted))
        {
            LogSessionRefused(logger, identity.Username, identity.Session);
            return Problems.Of(StatusCodes.Status401Unauthorized, "unauthorized", "A valid access token is required.",
                "The token's session has ended (logged out, refreshed elsewhere, new password or key); log in again.");
        }

        using var socket = await http.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            KeepAliveInterval = options.KeepAliveInterval,
            KeepAliveTimeout = options.IdleTimeout,
        });
        var connection = ActivatorUtilities.CreateInstance<SocketConnection>(http.RequestServices, socket, identity, http.TraceIdentifier);
        using (logger.BeginScope(new Dictionary<string, object> { ["ConnectionId"] = http.TraceIdentifier, ["Username"] = identity.Username }))
        {
            LogOpened(logger, identity.Username, http.Connection.RemoteIpAddress?.ToString() ?? "unknown");
            await connection.RunAsync(lifetime.ApplicationStopped);
            LogClosed(logger, identity.Username);
        }
        return TypedResults.Empty;
    }

    // A removed device's access token is refused at once, not when it expires: refused only when the users service
    // lists the account's devices without this one, asked again to be sure. If it cannot say, or says there is no such
    // account (a deleted account's sockets are closed by its SessionsEnded notice), the token (signed, and at most
    // minutes old) is trusted, as before linked devices: a refusal here makes clients give up, so it must be certain.
    private static async Task<bool> IsLiveDeviceAsync(DeviceDirectory directory, TokenIdentity identity, CancellationToken ct)
    {
        try
        {
            var devices = await directory.DevicesAsync(identity.Username, ct);
            if (devices.Length == 0 || devices.Contains(identity.Device)) return true;
            devices = await directory.RefreshAsync(identity.Username, ct);
            return devices.Length == 0 || devices.Contains(identity.Device);
        }
        catch (HttpRequestException)
        {
            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket refused for {Username}: device {Device} is not one of the account's devices")]
    private static partial void LogDeviceRefused(ILogger logger, string username, int device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket refused for {Username}: session {SessionId} has ended")]
    private static partial void LogSessionRefused(ILogger logger, string username, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Socket opened for {Username} from {ClientAddress}")]
    private static partial void LogOpened(ILogger logger, string username, string clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Socket closed for {Username}")]
    private static partial void LogClosed(ILogger logger, string username);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket refused from {ClientAddress}: no valid access token")]
    private static partial void LogRefused(ILogger logger, string clientAddress);
}
