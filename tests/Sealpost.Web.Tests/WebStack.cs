using Microsoft.Playwright;
using Sealpost.Testing;

namespace Sealpost.Web.Tests;

/// <summary>
/// The whole system as scripts/up runs it (HAProxy serving the page at / and the API on one origin), and one headless
/// Debian Chromium driven by Playwright. Each person in a test gets a browser context of their own: their own
/// IndexedDB, as on their own machine.
/// </summary>
public sealed class WebStack : SealpostStack
{
    /// <summary>Where Debian's chromium package puts the browser; Playwright never downloads one here.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Screenshots of the main screens land here, for a person to look at.</summary>
    public static string ScreenshotFolder { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public override async Task InitializeAsync()
    {
        if (!File.Exists(Path.Combine(TestEnvironment.RepoRoot, "src", "Sealpost.Web", "dist", "index.html")))
            throw new InvalidOperationException("src/Sealpost.Web/dist is missing: scripts/test builds the web page (npm ci, then node build.mjs).");
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"{ChromiumPath} is missing: scripts/test installs Debian's chromium package.");
        await base.InitializeAsync();
        Directory.CreateDirectory(ScreenshotFolder);
        // The machine is shared and small: a page is given as long as a person would wait, not Playwright's default 5 s.
        Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
    }

    public override async Task DisposeAsync()
    {
        if (_playwright is not null)
        {
            await Browser.CloseAsync();
            _playwright.Dispose();
        }
        await base.DisposeAsync();
    }
}
