namespace Sealpost.Users.WebPage;

/// <summary>Where the built web client is (src/Sealpost.Web/dist); unset, the service serves no page.</summary>
public sealed class WebPageOptions
{
    public const string Section = "WebPage";

    public string? Root { get; set; }
}
