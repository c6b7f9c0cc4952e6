using System.Net;
using System.Text.Json;
using Sealpost.Testing;

namespace Sealpost.Client.Tests;

/// <summary>Answers of the REST API that docs/api.md describes, checked against the running system through HAProxy.</summary>
[Collection(StackCollection.Name)]
public sealed class ApiAsDocumentedTests(SealpostStack stack)
{
    [Fact]
    public async Task A_record_without_a_display_name_carries_display_name_null()
    {
        var user = await stack.Api.NewUserAsync("nodisplay");

        using var response = await stack.Api.SendAsync(HttpMethod.Get, $"/v1/accounts/{user.Username}");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("display_name").ValueKind);
    }

    [Theory]
    [InlineData("/v1/accounts")]
    [InlineData("/v1/sessions")]
    [InlineData("/v1/sessions/refresh")]
    public async Task Every_body_that_is_not_json_gets_the_same_415(string path)
    {
        using var response = await stack.Api.SendAsync(HttpMethod.Post, path, json: "{}", contentType: "text/plain");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("urn:sealpost:problem:unsupported-media-type", json.RootElement.GetProperty("type").GetString());
        Assert.Equal("The body must be JSON.", json.RootElement.GetProperty("title").GetString());
        Assert.Equal("Send Content-Type: application/json.", json.RootElement.GetProperty("detail").GetString());
    }
}
