using System.Net.WebSockets;
using Microsoft.AspNetCore.Http.HttpResults;
using Sealpost.ServiceDefaults;

namespace Sealpost.Messages.Sockets;

public static partial class SocketEndpoints
{
    public static IEndpointRouteBuilder MapSocketEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/ws", Connect).WithTags("Messages");
        return app;
    }

    /// <summary>Checks origin and token before the upgrade, so a refused client gets a plain HTTP status and a problem body.</summary>
    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> Connect(HttpContext http, SocketServices services, IHostApplicationLifetime lifetime)
    {
        var (options, tokens, logger) = (services.Options, services.Tokens, services.Logger);
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

        if (!await IsLiveDeviceAsync(services, identity, http.RequestAborted))
        {
            LogDeviceRefused(logger, identity.Username, identity.Device);
            return Problems.Of(StatusCodes.Status401Unauthorized, "device-removed", "This device was removed from the account.",
                "Link it again from one of the account's devices.");
        }

        using var socket = await http.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            KeepAliveInterval = options.KeepAliveInterval,
            KeepAliveTimeout = options.IdleTimeout,
        });
        var connection = new Connection(socket, identity, http.TraceIdentifier, services);
        using (logger.BeginScope(new Dictionary<string, object> { ["ConnectionId"] = connection.ConnectionId, ["Username"] = identity.Username }))
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
    private static async Task<bool> IsLiveDeviceAsync(SocketServices services, Identity.TokenIdentity identity, CancellationToken ct)
    {
        try
        {
            var devices = await services.Directory.DevicesAsync(identity.Username, ct);
            if (devices.Length == 0 || devices.Contains(identity.Device)) return true;
            devices = await services.Directory.RefreshAsync(identity.Username, ct);
            return devices.Length == 0 || devices.Contains(identity.Device);
        }
        catch (HttpRequestException)
        {
            return true;
        }
    }

    /// <summary>On shutdown every socket is closed with 1001 so its client reconnects, through HAProxy, to another instance.</summary>
    public static void CloseAllOnShutdown(this WebApplication app)
    {
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            foreach (var socket in registry.All()) socket.Close(WebSocketCloseStatus.EndpointUnavailable, "server shutting down; reconnect");
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket refused for {Username}: device {Device} is not one of the account's devices")]
    private static partial void LogDeviceRefused(ILogger logger, string username, int device);

    [LoggerMessage(Level = LogLevel.Information, Message = "Socket opened for {Username} from {ClientAddress}")]
    private static partial void LogOpened(ILogger logger, string username, string clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Socket closed for {Username}")]
    private static partial void LogClosed(ILogger logger, string username);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket refused from {ClientAddress}: no valid access token")]
    private static partial void LogRefused(ILogger logger, string clientAddress);
}
