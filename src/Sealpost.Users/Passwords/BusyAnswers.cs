using Microsoft.Extensions.Options;
using Sealpost.ServiceDefaults;

namespace Sealpost.Users.Passwords;

public static partial class BusyAnswers
{
    /// <summary>Turns <see cref="PasswordWorkBusyException"/> into a fast <c>503 busy</c> with <c>Retry-After</c>.</summary>
    public static WebApplication UseBusyAnswers(this WebApplication app)
    {
        var retryAfter = app.Services.GetRequiredService<IOptions<PasswordWorkOptions>>().Value.RetryAfterSeconds
            .ToString(System.Globalization.CultureInfo.InvariantCulture);
        var logger = app.Services.GetRequiredService<ILogger<PasswordWork>>();
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (PasswordWorkBusyException) when (!context.Response.HasStarted)
            {
                LogBusy(logger, context.Request.Path, ClientAddress.Of(context));
                context.Response.Clear();
                context.Response.Headers.RetryAfter = retryAfter;
                await Problems.Of(StatusCodes.Status503ServiceUnavailable, "busy", "The server is busy checking passwords; try again shortly.")
                    .ExecuteAsync(context);
            }
        });
        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Password work is saturated: {Path} from {ClientAddress} answered 503")]
    private static partial void LogBusy(ILogger logger, string path, string clientAddress);
}
