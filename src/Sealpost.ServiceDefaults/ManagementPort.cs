using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace Sealpost.ServiceDefaults;

/// <summary>
/// <c>Management:Url</c> (e.g. <c>http://127.0.0.1:5111</c>): a second address the instance listens on, for Prometheus
/// and operators. When it is set, <c>/metrics</c> and <c>/readyz</c> answer there only, and nothing else does; the
/// service address, the one HAProxy forwards to, keeps only <c>/healthz</c> of them, for HAProxy's check (security
/// review L1). Which address a request came in on is the connection's local port, never the Host header, which a client
/// writes. Unset, everything answers on the one address, as before (scripts/cluster).
/// </summary>
public static class ManagementPort
{
    public const string UrlKey = "Management:Url";

    /// <summary>Adds <c>Management:Url</c> to the addresses Kestrel listens on (<c>--urls</c>, <c>ASPNETCORE_URLS</c>).</summary>
    public static WebApplicationBuilder AddManagementPort(this WebApplicationBuilder builder)
    {
        if (PortOf(builder.Configuration) is null) return builder;
        var urls = builder.Configuration[WebHostDefaults.ServerUrlsKey];
        builder.WebHost.UseUrls($"{(string.IsNullOrWhiteSpace(urls) ? "http://localhost:5000" : urls)};{builder.Configuration[UrlKey]}");
        return builder;
    }

    /// <summary>Answers 404 to a management path on the service address, and to anything else on the management address.</summary>
    public static WebApplication UseManagementPort(this WebApplication app)
    {
        if (PortOf(app.Configuration) is not { } port) return app;
        app.Use((context, next) =>
        {
            if (Allows(context.Request.Path, context.Connection.LocalPort == port)) return next(context);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        return app;
    }

    private static bool Allows(PathString path, bool onManagementPort) =>
        path.StartsWithSegments("/healthz")
        || onManagementPort == (path.StartsWithSegments("/metrics") || path.StartsWithSegments("/readyz"));

    private static int? PortOf(IConfiguration configuration)
    {
        var url = configuration[UrlKey];
        if (string.IsNullOrWhiteSpace(url)) return null;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.AbsolutePath != "/" || uri.Port is <= 0)
            throw new InvalidOperationException($"{UrlKey} must be an http address with a port, such as http://127.0.0.1:5111; it is '{url}'.");
        return uri.Port;
    }
}
