using System.Diagnostics;
using System.Text;
using Sealpost.Client;

namespace Sealpost.Cli;

/// <summary>
/// Asks on the controlling terminal (<c>/dev/tty</c>), as ssh, gpg and sudo do, so a prompt works while standard
/// input carries the message. Secrets are read with echo turned off (<c>stty -echo</c>) and echo is restored
/// whatever happens. Ctrl-C ends the prompt at once: the wait is cancelled by the interrupt token, not by a
/// keystroke the reader has to see.
/// </summary>
public sealed class TtyPrompt(CancellationToken interrupted, string device = "/dev/tty")
{
    private const int MaxLineBytes = 4096;
    private const byte Interrupt = 0x03;     // Ctrl-C
    private const byte EndOfText = 0x04;     // Ctrl-D
    private const byte Backspace = 0x08;
    private const byte KillLine = 0x15;      // Ctrl-U
    private const byte Erase = 0x7F;         // the backspace key on most terminals

    /// <summary>The line typed, without echo; null when there is no terminal.</summary>
    public string? ReadSecret(string prompt) => Read(prompt, echo: false);

    /// <summary>The line typed, echoed as usual; null when there is no terminal.</summary>
    public string? ReadLine(string prompt) => Read(prompt, echo: true);

    private string? Read(string prompt, bool echo)
    {
        FileStream tty;
        try
        {
            tty = new FileStream(device, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        using (tty)
        {
            // A visible answer is read a line at a time with the terminal's own editing and Ctrl-C, whatever mode it was
            // left in (.NET's console turns canonical mode and CR-to-NL off while it reads a terminal on stdin). A secret
            // is read a key at a time without echo or signals: Ctrl-C, backspace and Ctrl-U are acted on here, so Ctrl-C
            // ends the prompt without depending on a signal reaching the runtime (one that did not, on a loaded machine,
            // left the prompt waiting).
            var saved = Stty("-g")?.Trim();
            if (saved is null || Stty(echo ? "echo icanon isig icrnl" : "-echo -icanon -isig icrnl min 1 time 0") is null)
            {
                if (!echo) throw new CliException(ErrorKind.Invalid, "Cannot turn off echo on the terminal (stty failed), so no secret is asked for: set the variable instead.");
                saved = null;
            }
            try
            {
                tty.Write(Encoding.UTF8.GetBytes(prompt));
                // The read blocks in the kernel; waiting on it with the interrupt token lets Ctrl-C end the prompt now.
                // The reading thread is left behind, and the process ends soon after.
                var reading = Task.Factory.StartNew(() => ReadLineFrom(tty), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                reading.Wait(interrupted);
                return reading.Result;
            }
            catch (AggregateException e) when (e.InnerException is IOException io)
            {
                throw new CliException(ErrorKind.Invalid, $"Cannot read from the terminal: {io.Message}", io);
            }
            catch (AggregateException e) when (e.InnerException is OperationCanceledException typed)
            {
                throw typed;   // Ctrl-C arrived as a character (below): the same as the signal
            }
            finally
            {
                if (saved is not null) Stty(saved);
                if (!echo)
                {
                    // The Enter the person typed was not echoed either.
                    try
                    {
                        tty.Write("\n"u8);
                    }
                    catch (IOException)
                    {
                        // The terminal went away; nothing left to tidy on it.
                    }
                }
            }
        }
    }

    /// <summary>
    /// Up to the end of the line (NL, or CR should the terminal still pass it); end of input (Ctrl-D) ends it too.
    /// Without canonical mode (a secret) the editing keys arrive here: backspace removes the last character, Ctrl-U the
    /// whole line, and Ctrl-C interrupts; with it, the terminal has dealt with them before the line arrives.
    /// </summary>
    private static string ReadLineFrom(FileStream tty)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < MaxLineBytes)
        {
            if (tty.Read(one, 0, 1) == 0 || one[0] is (byte)'\n' or (byte)'\r' or EndOfText) break;
            switch (one[0])
            {
                case Interrupt:
                    throw new OperationCanceledException("Ctrl-C at the prompt");
                case Erase or Backspace:
                    // A whole UTF-8 character: its continuation bytes, then its first byte.
                    while (bytes.Count > 0 && (bytes[^1] & 0xC0) == 0x80) bytes.RemoveAt(bytes.Count - 1);
                    if (bytes.Count > 0) bytes.RemoveAt(bytes.Count - 1);
                    break;
                case KillLine:
                    bytes.Clear();
                    break;
                default:
                    bytes.Add(one[0]);
                    break;
            }
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    /// <summary>Runs <c>stty -F device ARGS</c>; its output, or null when it failed.</summary>
    private string? Stty(string arguments)
    {
        // Every stream redirected: .NET then sees a child that does not use the terminal and leaves the terminal modes
        // alone around it (for one that does, it re-applies its own modes when the child exits, undoing stty's work).
        var info = new ProcessStartInfo("stty") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-F");
        info.ArgumentList.Add(device);
        foreach (var argument in arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)) info.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(info);
            if (process is null) return null;
            var output = process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
