namespace Sealpost.Users;

public static class NoStore
{
    /// <summary>
    /// <c>Cache-Control: no-store</c> on every answer of these routes: they carry tokens or the caller's own record,
    /// which no cache or browser history should keep.
    /// </summary>
    public static TBuilder WithNoStore<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            context.HttpContext.Response.Headers.CacheControl = "no-store";
            return await next(context);
        });
}
