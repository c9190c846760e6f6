using Microsoft.Extensions.Logging;

namespace SiteX.Server.Diagnostics;

/// <summary>Queue store log events, ids 1200-1249. Next free id: 1208.</summary>
internal static partial class QueueStoreLog
{
    [LoggerMessage(1200, LogLevel.Information, "Queue store {Directory} opened: {Segments} segment(s), {DiskBytes} bytes, {Live} live message(s), next sequence {NextSequence}, in {ElapsedMs} ms", EventName = "QueueStoreOpened")]
    public static partial void Opened(ILogger logger, string directory, int segments, long diskBytes, int live, long nextSequence, long elapsedMs);

    [LoggerMessage(1201, LogLevel.Warning, "Queue segment {Segment}: torn or corrupt tail at offset {Offset} ({Reason}); cut {BytesCut} byte(s)", EventName = "QueueSegmentTailTruncated")]
    public static partial void TailTruncated(ILogger logger, long segment, long offset, string reason, long bytesCut);

    [LoggerMessage(1202, LogLevel.Error, "Queue segment {Segment}: corrupt record at offset {Offset} ({Reason}); the remaining {BytesSkipped} byte(s) of the segment are skipped and their messages lost", EventName = "QueueSegmentCorrupt")]
    public static partial void SegmentCorrupt(ILogger logger, long segment, long offset, string reason, long bytesSkipped);

    [LoggerMessage(1203, LogLevel.Error, "Queue store write failed; the store refuses further writes until restarted", EventName = "QueueStoreWriteFailed")]
    public static partial void WriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(1204, LogLevel.Debug, "Queue segment {Segment} reclaimed ({Bytes} bytes)", EventName = "QueueSegmentReclaimed")]
    public static partial void SegmentReclaimed(ILogger logger, long segment, long bytes);

    [LoggerMessage(1205, LogLevel.Warning, "Queue segment {Segment} could not be deleted; it will be retried after the next write", EventName = "QueueSegmentDeleteFailed")]
    public static partial void SegmentDeleteFailed(ILogger logger, long segment, Exception exception);

    [LoggerMessage(1206, LogLevel.Warning, "Queue store {Directory}: ignoring file {File}, which is not a segment", EventName = "QueueStoreForeignFile")]
    public static partial void ForeignFile(ILogger logger, string directory, string file);

    [LoggerMessage(1207, LogLevel.Warning, "Queue store: preparing the next segment ahead of need failed; segments grow as they are written until it succeeds", EventName = "QueueSegmentPreallocationFailed")]
    public static partial void PreallocationFailed(ILogger logger, Exception exception);
}
