using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Sealpost.Protocol;

namespace Sealpost.ServiceDefaults;

public static class ServiceDefaultsExtensions
{
    private static readonly Dictionary<int, string> FrameworkCodes = new()
    {
        [400] = "bad-request", [401] = "unauthorized", [403] = "forbidden", [404] = "not-found", [405] = "method-not-allowed",
        [413] = "too-large", [415] = "unsupported-media-type", [429] = "rate-limited", [500] = "internal", [503] = "unavailable",
    };

    /// <summary>
    /// Problem details, JSON, forwarded headers from HAProxy, the Kestrel limits every service shares, and the management
    /// address (<see cref="ManagementPort"/>).
    /// </summary>
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder, long maxRequestBodyBytes)
    {
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = maxRequestBodyBytes;
            k.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
        });
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            // Answers the framework makes by itself (no route, wrong method or media type, a crash) get our stable types too.
            if (c.ProblemDetails.Type is null || c.ProblemDetails.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
            {
                c.ProblemDetails.Type = Problems.TypeOf(FrameworkCodes.GetValueOrDefault(c.ProblemDetails.Status ?? 500, "error"));
                // Routes declaring Accepts("application/json") are refused by routing itself: answer as JsonBody does.
                if (c.ProblemDetails.Status == StatusCodes.Status415UnsupportedMediaType)
                    (c.ProblemDetails.Title, c.ProblemDetails.Detail) = (JsonBody.NotJsonTitle, JsonBody.NotJsonDetail);
            }
        });
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            // Numbers are numbers (the web defaults also read "3" as 3), in what is read and in the OpenAPI schemas.
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, SealpostJsonContext.Default);
        });
        // HAProxy on loopback adds X-Forwarded-For; the default known proxies are exactly loopback.
        builder.Services.Configure<ForwardedHeadersOptions>(o => o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto);
        builder.AddManagementPort();
        return builder;
    }

    /// <summary>
    /// Forwarded headers, <c>X-Content-Type-Options: nosniff</c> on every answer, unhandled failures as problem
    /// details (a database that is away answers 503), and each path on its own address (<see cref="ManagementPort"/>).
    /// </summary>
    public static WebApplication UseServiceDefaults(this WebApplication app)
    {
        app.UseForwardedHeaders();
        app.Use((context, next) =>
        {
            // Set as the answer starts, so error pages written after a Response.Clear() carry it too.
            context.Response.OnStarting(() =>
            {
                context.Response.Headers.XContentTypeOptions = "nosniff";
                return Task.CompletedTask;
            });
            return next(context);
        });
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = e => IsUnavailable(e) ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status500InternalServerError,
        });
        app.UseStatusCodePages();
        var database = app.Services.GetService<NpgsqlDataSource>();
        if (database is not null)
        {
            app.Use(async (context, next) =>
            {
                try
                {
                    await next(context);
                }
                catch (Exception e) when (IsUnavailable(e))
                {
                    database.ClearIfBroken(e);
                    throw;
                }
            });
        }
        app.UseManagementPort();
        return app;
    }

    /// <summary>
    /// After the database went away every pooled connection is dead, and Npgsql does not test them on checkout:
    /// dropping them all on the first such failure lets the next request open a fresh one.
    /// </summary>
    public static void ClearIfBroken(this NpgsqlDataSource database, Exception e)
    {
        if (IsUnavailable(e)) database.Clear();
    }

    /// <summary><c>/healthz</c>: the process answers. <c>/readyz</c>: it can do its work (the check passes).</summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app, Func<CancellationToken, Task> readinessCheck)
    {
        app.MapGet("/healthz", () => TypedResults.Text("ok")).ExcludeFromDescription();
        app.MapGet("/readyz", async Task<IResult> (CancellationToken ct) =>
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                await readinessCheck(timeout.Token);
                return TypedResults.Text("ready");
            }
            catch (Exception e) when (e is OperationCanceledException || IsUnavailable(e))
            {
                return Problems.Of(StatusCodes.Status503ServiceUnavailable, "unavailable", "A dependency is not reachable.");
            }
        }).ExcludeFromDescription();
        return app;
    }

    /// <summary>
    /// The service's one data source. Pooled connections skip the reset round trip (our code leaves no session
    /// state behind), and statements used repeatedly are prepared once per connection instead of planned each time.
    /// Random reads are costed as what they are for our data, cached or on SSD (<c>random_page_cost</c> 1.1, not the
    /// spinning-disk default of 4): with the default, a batch of a few hundred acks was planned as a sequential scan
    /// of the whole mailbox table instead of as many index lookups, 6x slower at 20,000 waiting messages.
    /// With <paramref name="planEachExecution"/>, a prepared statement is planned again each time it runs, for the
    /// table's size now: a table used as a queue (the mailboxes) is empty one minute and holds 20,000 rows the next,
    /// and a plan cached while it was empty scanned all of them for every batch of acks.
    /// </summary>
    public static IServiceCollection AddDatabase(this IServiceCollection services, bool planEachExecution = false) =>
        services.AddSingleton(sp => CreateDataSource(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<DatabaseOptions>>().Value.ConnectionString,
            planEachExecution));

    /// <summary>
    /// A data source as <see cref="AddDatabase"/> describes. A connection string naming several hosts (a Patroni
    /// cluster's members) gives Npgsql's multi-host data source, which takes <c>Target Session Attributes</c> from it.
    /// </summary>
    public static NpgsqlDataSource CreateDataSource(string connectionString, bool planEachExecution = false)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        builder.ConnectionStringBuilder.MaxAutoPrepare = Math.Max(builder.ConnectionStringBuilder.MaxAutoPrepare, 32);
        builder.ConnectionStringBuilder.Options = (builder.ConnectionStringBuilder.Options + " -c random_page_cost=1.1"
            + (planEachExecution ? " -c plan_cache_mode=force_custom_plan" : "")).Trim();
        return builder.Build();
    }

    /// <summary>Checks that PostgreSQL answers.</summary>
    public static async Task PingAsync(this NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT 1");
        await cmd.ExecuteScalarAsync(ct);
    }

    public static bool IsUnavailable(Exception e) =>
        e is NpgsqlException { IsTransient: true } or TimeoutException
        || (e is PostgresException pg && pg.SqlState.StartsWith("57P", StringComparison.Ordinal))
        || (e.InnerException is { } inner && IsUnavailable(inner));
}
