namespace Sealpost.Web.Tests;

/// <summary>One stack and one browser for every web test: starting them is the slow part.</summary>
[CollectionDefinition(Name)]
public sealed class WebCollection : ICollectionFixture<WebStack>
{
    public const string Name = "web";
}
