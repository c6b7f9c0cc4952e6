using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace Sealpost.ServiceDefaults;

/// <summary>
/// Reads a JSON request body and turns every way it can be wrong (content type, size, syntax, a field of the
/// wrong type) into a precise problem that names the field, instead of the framework's generic 400.
/// </summary>
public static class JsonBody
{
    /// <summary>The one answer to a body that is not JSON, whether this reader or the framework's routing refuses it.</summary>
    public const string NotJsonTitle = "The body must be JSON.";

    public const string NotJsonDetail = "Send Content-Type: application/json.";

    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo, CancellationToken ct)
        where T : class
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (null, Problems.Of(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type",
                NotJsonTitle, NotJsonDetail));
        }
        try
        {
            var value = await JsonSerializer.DeserializeAsync(request.Body, typeInfo, ct);
            return value is null
                ? (null, Problems.Validation("body", "A JSON object is required."))
                : (value, null);
        }
        catch (JsonException e)
        {
            var field = FieldOf(e.Path);
            var message = field == "body" ? "The body is not a well-formed JSON object." : "This field has the wrong JSON type.";
            return (null, Problems.Validation(field, message));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, Problems.Of(e.StatusCode, "too-large", "The request body is too large."));
        }
    }

    // "$.public_key" names the field; "$" or a nested path means the body as a whole.
    private static string FieldOf(string? path) =>
        path is { Length: > 2 } && path.StartsWith("$.", StringComparison.Ordinal) && path.IndexOfAny(['.', '['], 2) < 0
            ? path[2..]
            : "body";
}
