using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;

namespace Sealpost.Users;

/// <summary>
/// What the generated OpenAPI document cannot learn from the routes: the bearer scheme of the routes that need a
/// token, and the error answers every route can give (problem details, docs/api.md lists the codes per route).
/// </summary>
public static class OpenApiDescription
{
    private const string Bearer = "bearer";

    public static IServiceCollection AddSealpostOpenApi(this IServiceCollection services) => services.AddOpenApi(o =>
    {
        o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Sealpost users service";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[Bearer] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "The access token from POST /v1/sessions (or /v1/sessions/refresh).",
            };
            return Task.CompletedTask;
        });
        o.AddOperationTransformer((operation, context, _) =>
        {
            operation.Responses ??= [];
            var authorized = context.Description.ActionDescriptor.EndpointMetadata.OfType<IAuthorizeData>().Any();
            if (authorized)
            {
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Bearer, context.Document)] = [] });
                operation.Responses.TryAdd("401", Problem("No valid access token (a missing, expired or revoked one)."));
            }
            operation.Responses.TryAdd("default", Problem(
                "An error as problem details (RFC 9457): 400 invalid input (with field errors), 404, 409, 410, 413, 415, 429 " +
                "(with Retry-After), 503 when the database is unreachable. docs/api.md lists them per route."));
            return Task.CompletedTask;
        });
    });

    private static OpenApiResponse Problem(string description) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>
        {
            ["application/problem+json"] = new()
            {
                Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["type"] = new OpenApiSchema { Type = JsonSchemaType.String },
                        ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
                        ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                        ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String },
                        ["errors"] = new OpenApiSchema { Type = JsonSchemaType.Object },
                    },
                },
            },
        },
    };
}
