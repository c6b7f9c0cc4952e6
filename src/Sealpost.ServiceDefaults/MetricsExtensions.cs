using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Sealpost.ServiceDefaults;

/// <summary>
/// Prometheus metrics on <c>/metrics</c> of each instance's management address (<see cref="ManagementPort"/>; its own
/// address when none is set): the service's meter, ASP.NET Core's (requests by route and status, with durations),
/// Kestrel's (connections) and the runtime's (GC, threads, CPU). HAProxy's public frontend never routes <c>/metrics</c>
/// (deploy/haproxy.cfg answers it 404), and with a management address the instance's service address does not either.
/// </summary>
public static class MetricsExtensions
{
    /// <param name="builder">The service.</param>
    /// <param name="serviceMeter">The service's own meter, whose name (<c>Sealpost.Users</c>) also names the service in <c>target_info</c>.</param>
    public static WebApplicationBuilder AddMetrics(this WebApplicationBuilder builder, string serviceMeter)
    {
        builder.Services.AddOpenTelemetry().ConfigureResource(r => r.AddService(serviceMeter)).WithMetrics(m => m
            .AddMeter(serviceMeter, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime")
            // Each scrape sees the counters as they are now (the exporter would otherwise answer from a 300 ms cache).
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        return builder;
    }

    public static WebApplication MapMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
