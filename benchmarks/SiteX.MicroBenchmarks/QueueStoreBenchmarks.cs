using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using SiteX.Server.Queues;
using SiteX.Server.Queues.Storage;

namespace SiteX.MicroBenchmarks;

/// <summary>
/// One 1 KiB append (a push) to the durable queue store (<see cref="SegmentedLogStore"/>) at a time, each awaited until
/// the writer loop has written it: the latency of a lone append, not the store's throughput (the <c>store</c> scenario
/// of benchmarks/SiteX.Benchmarks measures that).
/// </summary>
/// <remarks>
/// The store runs with <see cref="QueueDurability.Os"/>: an append is complete once written to the operating system. A
/// micro-benchmark measures the path's CPU and allocations; an fsync per append would measure the disk of a shared VM
/// instead, and allocates the same. Segment pre-allocation is off, so that no background 64 MiB zero-fill competes for
/// the two cores. Allocated bytes are counted for the whole process: they include the writer loop's record buffer.
/// Each iteration appends a fixed 8192 messages and then releases them (not measured), so the store stays small.
/// </remarks>
[MemoryDiagnoser]
[InvocationCount(AppendsPerIteration)]
public class QueueAppendBenchmarks
{
    private const int AppendsPerIteration = 8192;
    private const string Session = "202611281200000000001";
    private readonly byte[] _payload = new byte[1024];
    private readonly List<StoredMessage> _appended = new(2 * AppendsPerIteration); // never grows while measured
    private QueueStoreFixture _fixture = null!;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = QueueStoreFixture.Open();
        Random.Shared.NextBytes(_payload);
    }

    [GlobalCleanup]
    public void Cleanup() => _fixture.Dispose();

    /// <summary>Releases the session the iteration appended to.</summary>
    [IterationCleanup]
    public void Release()
    {
        _fixture.Store.ReleaseAsync(Session, null, _appended, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        _appended.Clear();
    }

    [Benchmark]
    public async ValueTask Append_1KiB() =>
        _appended.Add(await _fixture.Store.AppendAsync(Session, "topic", null, _payload, CancellationToken.None));
}

/// <summary>Reading a 1 KiB payload back from the queue store (a pop), from its memory cache and from its segment file.</summary>
[MemoryDiagnoser]
public class QueueReadBenchmarks
{
    private QueueStoreFixture _fixture = null!;
    private StoredMessage _cached = null!;
    private StoredMessage _onDisk = null!;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = QueueStoreFixture.Open();
        var payload = new byte[1024];
        Random.Shared.NextBytes(payload);
        _cached = _fixture.Store.AppendAsync("session", "topic", null, payload, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        _onDisk = _fixture.Store.AppendAsync("session", "topic", null, payload, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        _onDisk.CachedPayload = null;
    }

    [GlobalCleanup]
    public void Cleanup() => _fixture.Dispose();

    /// <summary>The payload is still in memory: a pop soon after the push (the default for messages up to 64 KiB).</summary>
    [Benchmark]
    public async ValueTask<int> ReadPayload_Cached() =>
        (await _fixture.Store.ReadPayloadAsync(_cached, CancellationToken.None)).Length;

    /// <summary>The payload is read from its segment file (after a restart, or a message over the cache size).</summary>
    [Benchmark]
    public async ValueTask<int> ReadPayload_FromDisk() =>
        (await _fixture.Store.ReadPayloadAsync(_onDisk, CancellationToken.None)).Length;
}

/// <summary>A queue store opened in a new temp directory (see <see cref="QueueAppendBenchmarks"/> for its settings),
/// deleted on dispose.</summary>
internal sealed class QueueStoreFixture : IDisposable
{
    private readonly string _directory;

    private QueueStoreFixture(string directory, SegmentedLogStore store) => (_directory, Store) = (directory, store);

    public SegmentedLogStore Store { get; }

    public static QueueStoreFixture Open()
    {
        var directory = Path.Combine(Path.GetTempPath(), "sitex-micro-" + Guid.NewGuid().ToString("N"));
        var options = new QueueStoreOptions { Directory = directory, Durability = QueueDurability.Os, Preallocation = SegmentPreallocation.Off };
        var store = new SegmentedLogStore(options, NullLogger<SegmentedLogStore>.Instance, TimeProvider.System);
        store.OpenAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        return new QueueStoreFixture(directory, store);
    }

    public void Dispose()
    {
        Store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }
}
