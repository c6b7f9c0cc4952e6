using Sealpost.Bench;

// Hundreds of socket loops share a few cores with the system under test: start with enough pool threads that a
// loop busy sealing an envelope does not delay the others' receive timestamps while the pool grows.
ThreadPool.GetMinThreads(out var workers, out var io);
ThreadPool.SetMinThreads(Math.Max(workers, 64), Math.Max(io, 64));

using var interrupted = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (interrupted.IsCancellationRequested) return;
    e.Cancel = true;
    interrupted.Cancel();
};
return await BenchApp.RunAsync(args, interrupted.Token);
