using Microsoft.Extensions.Logging;
using SiteX.Server.Queues;
using SiteX.Server.Queues.Storage;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Queues;

/// <summary>A temp store directory, captured logs and helpers to open <see cref="SegmentedLogStore"/> on it.</summary>
internal sealed class StoreHarness : IDisposable
{
    private readonly TempDirectory _root = new("sitex-store-");
    private readonly LoggerFactory _loggerFactory;

    public StoreHarness(Action<QueueStoreOptions>? configure = null)
    {
        // Growing segments by default: these tests assert exact file lengths and segment counts, which pre-allocation
        // makes depend on when the background spare is ready. SegmentedLogStorePreallocationTests covers the default.
        Options = new QueueStoreOptions { Directory = _root.Combine("queues"), Preallocation = SegmentPreallocation.Off };
        configure?.Invoke(Options);
        _loggerFactory = new LoggerFactory([Logs]);
    }

    public TestLoggerProvider Logs { get; } = new();
    public QueueStoreOptions Options { get; }
    public string Directory => Options.Directory;
    public string Root => _root.Path;

    public async Task<(SegmentedLogStore Store, IReadOnlyList<StoredMessage> Live)> OpenAsync(string? directory = null)
    {
        var options = directory is null ? Options : new QueueStoreOptions
        {
            Directory = directory,
            Durability = Options.Durability,
            SegmentBytes = Options.SegmentBytes,
            MaxDiskBytes = Options.MaxDiskBytes,
            MaxMessageBytes = Options.MaxMessageBytes,
            CacheMessagesUpToBytes = Options.CacheMessagesUpToBytes,
            Preallocation = Options.Preallocation,
        };
        var store = new SegmentedLogStore(options, _loggerFactory.CreateLogger<SegmentedLogStore>(), TimeProvider.System);
        var live = await store.OpenAsync(CancellationToken.None).DefaultTimeout();
        return (store, live);
    }

    /// <summary>Segment files, oldest first.</summary>
    public string[] Segments(string? directory = null) =>
        [.. System.IO.Directory.GetFiles(directory ?? Directory, "*.seg").Order(StringComparer.Ordinal)];

    public static byte[] Payload(long n, int size)
    {
        var payload = new byte[size];
        new Random((int)n).NextBytes(payload);
        return payload;
    }

    public static async Task<byte[]> ReadAsync(SegmentedLogStore store, StoredMessage message) =>
        (await store.ReadPayloadAsync(message, CancellationToken.None).DefaultTimeout()).ToArray();

    public static Task<StoredMessage> AppendAsync(SegmentedLogStore store, string session, string topic, byte[] payload, string? messageId = null) =>
        store.AppendAsync(session, topic, messageId, payload, CancellationToken.None).DefaultTimeout();

    public void Dispose()
    {
        _loggerFactory.Dispose();
        _root.Dispose();
    }
}
