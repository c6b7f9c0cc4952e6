using Microsoft.Playwright;
using Sealpost.Testing;
using static Microsoft.Playwright.Assertions;

namespace Sealpost.Web.Tests;

/// <summary>One person using the web page in a browser context of their own, driven through labels and roles as a person (or a screen reader) finds them.</summary>
public sealed class Person : IAsyncDisposable
{
    private readonly WebStack _stack;
    private readonly List<string> _problems = [];

    private Person(WebStack stack, IBrowserContext context, IPage page, string username)
    {
        _stack = stack;
        Context = context;
        Page = page;
        Username = username;
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; private set; }

    public string Username { get; }

    /// <summary>Console errors and CSP violations the page reported: a test ends by checking there were none.</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>Every frame the page wrote to its sockets, as text, in order (what the server got from it).</summary>
    public List<string> SentFrames { get; } = [];

    /// <summary>Every frame the page's sockets received, as text, in order.</summary>
    public List<string> ReceivedFrames { get; } = [];

    /// <summary>The page's `send` frames so far.</summary>
    public List<System.Text.Json.JsonElement> Sends()
    {
        lock (SentFrames)
        {
            return [.. SentFrames.Select(f => System.Text.Json.JsonDocument.Parse(f).RootElement).Where(f => f.GetProperty("type").GetString() == "send")];
        }
    }

    public static async Task<Person> OpenAsync(WebStack stack, string prefix, ViewportSize? viewport = null)
    {
        var context = await stack.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = stack.BaseUrl.ToString(),
            ViewportSize = viewport ?? new ViewportSize { Width = 1100, Height = 720 },
        });
        context.SetDefaultTimeout(15_000);
        var person = new Person(stack, context, null!, TestEnvironment.UniqueUsername(prefix));
        person.Page = await person.NewPageAsync();
        return person;
    }

    /// <summary>A new tab on the page (the old one closed or not): what a person sees when they come back.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var page = await Context.NewPageAsync();
        page.Console += (_, message) =>
        {
            if (message.Type == "error") _problems.Add(message.Text);
        };
        page.PageError += (_, error) => _problems.Add(error);
        page.WebSocket += (_, socket) =>
        {
            socket.FrameSent += (_, frame) => { lock (SentFrames) SentFrames.Add(frame.Text ?? ""); };
            socket.FrameReceived += (_, frame) => { lock (ReceivedFrames) ReceivedFrames.Add(frame.Text ?? ""); };
        };
        await page.GotoAsync("/");
        Page = page;
        return page;
    }

    public const string Password = "correct horse battery";

    public async Task RegisterAsync()
    {
        await Page.GetByLabel("Username").First.FillAsync(Username);
        await Page.GetByLabel("Display name (optional)").FillAsync(Username.Split('_')[0]);
        await Page.GetByLabel("Password", new() { Exact = true }).First.FillAsync(Password);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        await Expect(Page.GetByText($"Signed in as {Username}")).ToBeVisibleAsync();
        await Expect(Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Online" })).ToBeVisibleAsync();
    }

    public async Task StartConversationAsync(string peer)
    {
        await Page.GetByLabel("Start a conversation with").FillAsync(peer);
        await Page.GetByLabel("Start a conversation with").PressAsync("Enter");
        await Expect(Page.GetByRole(AriaRole.Heading, new() { Level = 2 }).Filter(new() { HasText = peer })).ToBeVisibleAsync();
    }

    public async Task OpenConversationAsync(string peer)
    {
        await Page.GetByRole(AriaRole.Navigation, new() { Name = "Conversations" }).GetByRole(AriaRole.Button).Filter(new() { HasText = peer }).ClickAsync();
        await Expect(Page.GetByRole(AriaRole.Heading, new() { Level = 2 }).Filter(new() { HasText = peer })).ToBeVisibleAsync();
    }

    public ILocator Compose => Page.GetByLabel("Message to ");

    public ILocator SendButton => Page.GetByRole(AriaRole.Button, new() { Name = "Send", Exact = true });

    /// <summary>Types a message and presses Enter, as a person at a keyboard does; returns the message's list item.</summary>
    public async Task<ILocator> SendAsync(string text)
    {
        await Compose.FillAsync(text);
        await Compose.PressAsync("Enter");
        var item = Messages.Filter(new() { HasText = text });
        try
        {
            await Expect(item).ToHaveCountAsync(1);
        }
        catch (PlaywrightException e)
        {
            // What the page said about it is the useful part of the failure.
            throw new InvalidOperationException($"\"{text}\" did not appear; the page says: {await Page.Locator(".compose .status").TextContentAsync()}", e);
        }
        return item;
    }

    public ILocator Messages => Page.GetByRole(AriaRole.Log).Locator("li.message");

    public async Task ExpectMessageAsync(string text) => await Expect(Messages.Filter(new() { HasText = text })).ToHaveCountAsync(1);

    public async Task ScreenshotAsync(string name) =>
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(WebStack.ScreenshotFolder, name + ".png"), FullPage = false });

    public async ValueTask DisposeAsync() => await Context.CloseAsync();
}
