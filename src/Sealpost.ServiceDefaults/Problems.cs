using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Sealpost.ServiceDefaults;

/// <summary>
/// RFC 9457 answers with a stable <c>type</c> per kind of failure (<c>urn:sealpost:problem:&lt;code&gt;</c>),
/// so clients switch on the type and people read the title.
/// </summary>
public static class Problems
{
    public static string TypeOf(string code) => "urn:sealpost:problem:" + code;

    /// <summary>400 with a field-level <c>errors</c> map.</summary>
    public static ProblemHttpResult Validation(IDictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request has invalid fields.",
            Type = TypeOf("validation"),
        });

    public static ProblemHttpResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult Of(int status, string code, string title, string? detail = null) =>
        TypedResults.Problem(detail, statusCode: status, title: title, type: TypeOf(code));
}

/// <summary>Collects field errors in the order they are found.</summary>
public sealed class FieldErrors
{
    private readonly Dictionary<string, string[]> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public void Add(string field, string message) =>
        _errors[field] = _errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];

    public ProblemHttpResult ToProblem() => Problems.Validation(_errors);
}
