namespace SiteX.Server.Queues;

/// <summary>
/// Durable storage of queue messages. The store is the source of truth across restarts; which messages wait in which
/// (session, topic) queue, and who waits for them, is the queue manager's business. Implementations are
/// thread-safe.
/// </summary>
internal interface IQueueStore : IAsyncDisposable
{
    /// <summary>Opens the store, repairs a torn tail, and returns every live message (appended, not consumed, not
    /// released) in append order. Called once, before any other member.</summary>
    ValueTask<IReadOnlyList<StoredMessage>> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Appends a message. Completes once it is durable as the store's <see cref="QueueDurability"/>
    /// promises. Throws <see cref="QueueStoreException"/> (quota full, message too large, disk error).</summary>
    ValueTask<StoredMessage> AppendAsync(string session, string topic, string? messageId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);

    /// <summary>Records that <paramref name="message"/> was delivered; after a restart it is not live.</summary>
    ValueTask ConsumeAsync(StoredMessage message, CancellationToken cancellationToken);

    /// <summary>Records that a session (<paramref name="topic"/> null) or one topic was released; the given live
    /// messages of it are dropped. After a restart none of the session's (topic's) earlier messages is live.</summary>
    ValueTask ReleaseAsync(string session, string? topic, IReadOnlyList<StoredMessage> dropped, CancellationToken cancellationToken);

    /// <summary>Reads a message's payload (from memory when it is still cached, else from disk).</summary>
    ValueTask<ReadOnlyMemory<byte>> ReadPayloadAsync(StoredMessage message, CancellationToken cancellationToken);

    /// <summary>Bytes the store holds on disk now.</summary>
    long DiskBytes { get; }
}

/// <summary>When an append counts as durable.</summary>
public enum QueueDurability
{
    /// <summary>After the record is written and flushed to the device (fsync), with group commit. Survives a
    /// process crash and a power loss. The default.</summary>
    Fsync = 0,
    /// <summary>After the record is written to the operating system. Survives a process crash (kill -9), not a power
    /// loss or kernel crash. Faster on slow disks.</summary>
    Os = 1,
}

/// <summary>A message in the store.</summary>
internal sealed class StoredMessage
{
    public required long Sequence { get; init; }
    public required string Session { get; init; }
    public required string Topic { get; init; }
    public string? MessageId { get; init; }
    public required int Length { get; init; }
    /// <summary>Unix time in milliseconds when the message was appended.</summary>
    public required long AppendedAtMs { get; init; }
    /// <summary>Where the payload is (store-specific).</summary>
    public required long SegmentId { get; init; }
    public required long PayloadOffset { get; init; }
    /// <summary>The payload while it is still in memory (small messages pushed since the start), else empty.</summary>
    public ReadOnlyMemory<byte>? CachedPayload { get; set; }
}

/// <summary>A store failure with a message safe to show a caller.</summary>
public sealed class QueueStoreException(QueueStoreError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public QueueStoreError Error { get; } = error;
}

public enum QueueStoreError
{
    /// <summary>The store's disk quota is full.</summary>
    QuotaExceeded = 1,
    /// <summary>The message is larger than the store accepts.</summary>
    TooLarge = 2,
    /// <summary>An I/O error; the store may be unusable.</summary>
    Io = 3,
    /// <summary>The store is shutting down.</summary>
    Closed = 4,
}
