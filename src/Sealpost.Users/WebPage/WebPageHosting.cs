using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace Sealpost.Users.WebPage;

/// <summary>
/// Serves the web client's built files at <c>/</c> (index.html) and <c>/web/*</c>, same origin as the API, under a
/// Content-Security-Policy that lets the page run only its own script and talk only to its own origin (docs/web.md).
/// </summary>
public static partial class WebPageHosting
{
    /// <summary>
    /// No inline script or style, nothing from another origin, no framing, no plugins. <c>connect-src 'self'</c> covers
    /// the same-origin WebSocket too (CSP Level 3).
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static WebApplication UseWebPage(this WebApplication app)
    {
        var root = app.Services.GetRequiredService<IOptions<WebPageOptions>>().Value.Root;
        if (string.IsNullOrWhiteSpace(root)) return app;
        if (!Directory.Exists(root))
        {
            LogMissing(app.Logger, Path.GetFullPath(root));
            return app;
        }
        var files = new PhysicalFileProvider(Path.GetFullPath(root));
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                // Always revalidated (by ETag), so a new build reaches every browser on its next load.
                headers.CacheControl = "no-cache";
                headers["Referrer-Policy"] = "no-referrer";
                headers["Cross-Origin-Opener-Policy"] = "same-origin";
                headers["Cross-Origin-Resource-Policy"] = "same-origin";
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()";
            },
        });
        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "WebPage:Root {Root} does not exist: the web page is not served (build it with npm run build in src/Sealpost.Web)")]
    private static partial void LogMissing(ILogger logger, string root);
}
