using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Sealpost.Crypto.Benchmarks.EnvelopeBenchmarks).Assembly).Run(args);
