namespace SiteX.Server.Queues;

/// <summary>Bounds and timings of the PTP queues (FATE 2.x queue mode). Part of <c>SiteXOptions.Queues</c>.</summary>
public sealed class QueueOptions
{
    /// <summary>When a push counts as durable; see <see cref="QueueDurability"/>.</summary>
    public QueueDurability Durability { get; set; } = QueueDurability.Fsync;

    /// <summary>Disk the queue store may use, in bytes. A push over it fails with code 139.</summary>
    public long MaxDiskBytes { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>Largest message payload, in bytes.</summary>
    public int MaxMessageBytes { get; set; } = 512 * 1024 * 1024;

    /// <summary>How store segments get their space: <c>ZeroFill</c> (default: written with zeros ahead of use, so each
    /// flush overwrites allocated blocks; costs up to two segments of disk beyond the data), <c>Off</c> (segments grow
    /// as written; least disk), <c>Fallocate</c>.</summary>
    public SegmentPreallocation Preallocation { get; set; } = SegmentPreallocation.ZeroFill;

    /// <summary>Segment file size of the store.</summary>
    public long SegmentBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Bytes of unconsumed messages one session may hold.</summary>
    public long MaxBytesPerSession { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>Topics one session may have.</summary>
    public int MaxTopicsPerSession { get; set; } = 10_000;

    /// <summary>Pops that may wait at once in one session.</summary>
    public int MaxParkedPopsPerSession { get; set; } = 1_000;

    /// <summary>Pop timeout used when a pop asks for none (OSX's <c>consume.msg.waiting.timeout</c>).</summary>
    public TimeSpan DefaultPopTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>A session with no push, pop or waiting pop for this long is released.</summary>
    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromHours(48);

    /// <summary>How often idle sessions are looked for.</summary>
    public TimeSpan ExpiryScanInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long after a pop's response was handed to the server its message is recorded as consumed. A crash
    /// within this time delivers the message again (at least once) instead of losing it while its bytes were still on
    /// their way; a clean stop records every delivered message at once.</summary>
    public TimeSpan ConsumeRecordDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest session id or topic name, in characters.</summary>
    public int MaxNameLength { get; set; } = 512;
}
