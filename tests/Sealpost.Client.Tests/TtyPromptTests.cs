using System.Diagnostics;
using Sealpost.Cli;

namespace Sealpost.Client.Tests;

/// <summary>
/// The terminal prompt read from a device that hands over control characters as they are (a FIFO here; a secret is
/// read that way from a terminal, without canonical mode or signals): Ctrl-C interrupts, Ctrl-D ends the line, and
/// backspace and Ctrl-U edit it.
/// </summary>
public sealed class TtyPromptTests : IDisposable
{
    private readonly string _fifo = Path.Combine(Path.GetTempPath(), "sealpost-tty-" + Guid.NewGuid().ToString("N"));

    public TtyPromptTests()
    {
        using var mkfifo = Process.Start("mkfifo", [_fifo]);
        mkfifo.WaitForExit();
    }

    public void Dispose() => File.Delete(_fifo);

    // No prompt text: the FIFO carries only what is typed, whoever reads first.
    private async Task<string?> ReadTypedAsync(byte[] typed)
    {
        await using var device = new FileStream(_fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        await device.WriteAsync(typed);
        var prompt = new TtyPrompt(CancellationToken.None, _fifo);
        return await Task.Run(() => prompt.ReadLine("")).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Ctrl_c_that_arrives_as_a_character_interrupts_the_prompt()
    {
        await Assert.ThrowsAsync<OperationCanceledException>(() => ReadTypedAsync("abc\u0003"u8.ToArray()));
    }

    [Fact]
    public async Task Ctrl_d_that_arrives_as_a_character_ends_the_line()
    {
        Assert.Equal("abc", await ReadTypedAsync("abc\u0004"u8.ToArray()));
    }

    [Fact]
    public async Task Backspace_removes_a_whole_character_and_ctrl_u_the_line_when_the_keys_arrive_as_characters()
    {
        Assert.Equal("ac", await ReadTypedAsync("ab\u007fc\n"u8.ToArray()));
        Assert.Equal("pass", await ReadTypedAsync("pas\u00e9\bs\n"u8.ToArray()));
        Assert.Equal("ok", await ReadTypedAsync("wrong\u0015ok\n"u8.ToArray()));
    }
}
