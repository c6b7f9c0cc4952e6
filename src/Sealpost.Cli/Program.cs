using Sealpost.Cli;

using var interrupted = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl-C stops the command cleanly (listen closes its socket, a prompt restores echo); a second one kills the process.
    if (interrupted.IsCancellationRequested) return;
    e.Cancel = true;
    interrupted.Cancel();
};
return await new CliApp(CliConsole.System(interrupted.Token)).RunAsync(args, interrupted.Token);
