using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Sealpost.Crypto.Benchmarks;

/// <summary>
/// Envelope v1 seal and open (HPKE auth mode: two X25519 operations each way, HKDF, AES-128-GCM) at a chat-sized and
/// a large plaintext. One thread, so operations per second are per core.
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class EnvelopeBenchmarks
{
    private EnvelopeParty _sender = null!;
    private EnvelopeRecipient _recipient = null!;
    private X25519KeyPair _recipientKeys = null!;
    private byte[] _senderPublic = null!;
    private byte[] _plaintext = null!;
    private byte[] _envelope = null!;

    [Params(256, 16 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var alice = X25519KeyPair.Generate();
        _recipientKeys = X25519KeyPair.Generate();
        _senderPublic = alice.PublicKey.ToArray();
        _sender = new EnvelopeParty("alice", 1, alice.PrivateKey.ToArray());
        _recipient = new EnvelopeRecipient("bob", 7, _recipientKeys.PublicKey.ToArray());
        _plaintext = new byte[Size];
        Random.Shared.NextBytes(_plaintext);
        _envelope = Envelope.Seal(_sender, _recipient, _plaintext);
        if (!Open().AsSpan().SequenceEqual(_plaintext)) throw new InvalidOperationException("the envelope did not open to its plaintext");
    }

    [Benchmark]
    public byte[] Seal() => Envelope.Seal(_sender, _recipient, _plaintext);

    [Benchmark]
    public byte[] Open() => Envelope.Open(_envelope, "bob", 7, _recipientKeys.PrivateKey, "alice", _senderPublic);

    /// <summary>A short job (a few minutes for all four cases) with operations per second beside the mean.</summary>
    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.ShortRun.WithId("short"));
            AddColumn(StatisticColumn.OperationsPerSecond);
        }
    }
}
