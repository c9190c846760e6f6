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

    /// <summary>How segment space is made ready before appends land in it. Default
    /// <see cref="SegmentPreallocation.ZeroFill"/>: overwriting initialised blocks lets each flush skip the file system's
    /// metadata journal commit (measured 1.4-1.8x more durable appends per second; docs/adr/0003-queue-store.md).</summary>
    public SegmentPreallocation Preallocation { get; set; } = SegmentPreallocation.ZeroFill;
}

/// <summary>How the queue store prepares segment space (see <see cref="QueueStoreOptions.Preallocation"/>).</summary>
public enum SegmentPreallocation
{
    /// <summary>A segment grows with each write: every flush also commits the new file size and block allocation.</summary>
    Off = 0,

    /// <summary>The next segment is written full of zeros (real, initialised blocks, then flushed) in the background,
    /// so appends overwrite blocks the file system already has. Costs one extra write of each segment's bytes.</summary>
    ZeroFill = 1,

    /// <summary>Like <see cref="ZeroFill"/> but with <c>fallocate(2)</c> (falls back to writing zeros where it is not
    /// supported). On ext4 and XFS the space is allocated as unwritten extents, so each write still converts extents
    /// in the journal: cheaper to prepare, but flushes gain less.</summary>
    Fallocate = 2,
}
