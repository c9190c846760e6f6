namespace SiteX.Server.Queues;

/// <summary>Settings of the durable queue store (see docs/adr/0003-queue-store.md).</summary>
internal sealed class QueueStoreOptions
{
    /// <summary>The store directory, e.g. <c>&lt;DataDir&gt;/queues</c>. Created when missing. It holds only numbered
    /// segment files and a lock file; session and topic names never become file names.</summary>
    public string Directory { get; set; } = "";

    /// <summary>When an append counts as durable. Default <see cref="QueueDurability.Fsync"/>.</summary>
    public QueueDurability Durability { get; set; } = QueueDurability.Fsync;

    /// <summary>A segment is closed and a new one started once it would grow past this size (a single larger record
    /// gets a segment of its own). Default 64 MiB.</summary>
    public long SegmentBytes { get; set; } = 64L << 20;

    /// <summary>The disk quota: an append that would push the store's bytes on disk past this fails with
    /// <see cref="QueueStoreError.QuotaExceeded"/>. Default 10 GiB.</summary>
    public long MaxDiskBytes { get; set; } = 10L << 30;

    /// <summary>The largest payload accepted; larger ones fail with <see cref="QueueStoreError.TooLarge"/>. Default
    /// 1 GiB, at most <see cref="Storage.QueueRecordFormat.MaxPayloadBytes"/>.</summary>
    public int MaxMessageBytes { get; set; } = 1 << 30;

    /// <summary>Appended payloads up to this size stay in memory (<see cref="StoredMessage.CachedPayload"/>) so a pop
    /// soon after a push does not read the disk. 0 turns the cache off. Default 64 KiB.</summary>
    public int CacheMessagesUpToBytes { get; set; } = 64 << 10;
}
