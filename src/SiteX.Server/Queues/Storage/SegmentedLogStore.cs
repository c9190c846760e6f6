using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using SiteX.Server.Diagnostics;

namespace SiteX.Server.Queues.Storage;

/// <summary>
/// A segmented append-only log: the durable <see cref="IQueueStore"/>. See docs/adr/0003-queue-store.md.
/// </summary>
/// <remarks>
/// <para>Files: numbered segments (<see cref="LogSegment.FileName"/>) and a lock file in one directory; names are data
/// inside records, never paths. Record framing: <see cref="QueueRecordFormat"/>.</para>
/// <para>Writes: every append, consume and release goes through one channel to one writer loop, which drains all that
/// is pending, writes it with one gathered write (pwritev), flushes once (fsync, <see cref="QueueDurability.Fsync"/>)
/// and then completes the whole batch (group commit). The writer assigns sequences, so file order is sequence order.</para>
/// <para>Reclaim: segments are deleted from the oldest end only, once the oldest one that is not active holds no live
/// append. Consumes and releases always sit in later segments than the appends they refer to, so deleting oldest-first
/// never brings a consumed message back. One long-unconsumed message pins every later segment until it is consumed or
/// its session released.</para>
/// <para>Thread safety: every member may be called from any thread once <see cref="OpenAsync"/> has completed.</para>
/// </remarks>
internal sealed partial class SegmentedLogStore : IQueueStore
{
    private const string LockFileName = "store.lock";
    /// <summary>The next segment while it is being pre-allocated; renamed to its number when it becomes active.</summary>
    private const string SpareFileName = "next.seg.spare";
    private const int MaxBatchOperations = 4096;
    private const long MaxBatchBytes = 16L << 20;
    private const int MaxBuffersPerWrite = 512;

    private readonly QueueStoreOptions _options;
    private readonly ILogger<SegmentedLogStore> _logger;
    private readonly TimeProvider _time;
    private readonly string _directory;
    private readonly bool _durable;
    private readonly SegmentPreallocation _preallocation;
    private readonly Channel<PendingOperation> _channel = Channel.CreateUnbounded<PendingOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<long, LogSegment> _segmentsById = new();

    // Writer loop only (and OpenAsync before the loop starts).
    private readonly List<LogSegment> _segments = [];
    private readonly HashSet<long> _live = [];
    private readonly List<ReadOnlyMemory<byte>> _buffers = [];
    private readonly List<PendingOperation> _written = [];
    private LogSegment _active = null!;
    private long _nextSequence = 1;
    private long _bufferedBytes;
    private int _durableCount;
    private Exception? _fault;
    private long _recordBytes;
    private bool _releasedSinceStartOver;
    private Task<Microsoft.Win32.SafeHandles.SafeFileHandle?>? _spare;
    private long _spareBytes;
    private double _averageFlushBytes;

    private SafeFileHandle? _lock;
    private Task _writer = Task.CompletedTask;
    private long _diskBytes;
    private int _state; // 0 new, 1 opening/open, 2 disposed

    public SegmentedLogStore(QueueStoreOptions options, ILogger<SegmentedLogStore> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Directory, "options.Directory");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SegmentBytes, 4096, "options.SegmentBytes");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxDiskBytes, options.SegmentBytes, "options.MaxDiskBytes");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxMessageBytes, 1, "options.MaxMessageBytes");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MaxMessageBytes, QueueRecordFormat.MaxPayloadBytes, "options.MaxMessageBytes");
        ArgumentOutOfRangeException.ThrowIfNegative(options.CacheMessagesUpToBytes, "options.CacheMessagesUpToBytes");
        (_options, _logger, _time) = (options, logger, time);
        _directory = Path.GetFullPath(options.Directory);
        _durable = options.Durability == QueueDurability.Fsync;
        _preallocation = options.Preallocation;
    }

    /// <summary>Bytes the store's files take on disk: every segment's file length, pre-allocated space and the spare
    /// being prepared included. This is what the quota counts.</summary>

    public long DiskBytes => Volatile.Read(ref _diskBytes);

    /// <summary>Bytes of records (not pre-allocated zeros) in the segments on disk; a store whose sessions were all
    /// released and consumed holds only its checkpoint record.</summary>
    internal long RecordBytes => Volatile.Read(ref _recordBytes);

    /// <summary>For tests: completes when the spare segment being prepared (if any) is ready.</summary>
    internal Task SpareReady => Volatile.Read(ref _spare) ?? Task.CompletedTask;

    public ValueTask<IReadOnlyList<StoredMessage>> OpenAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw _state == 2 ? Closed() : new InvalidOperationException("The queue store is already open.");
        }

        var started = _time.GetTimestamp();
        List<StoredMessage> live;
        try
        {
            Directory.CreateDirectory(_directory);
            _lock = LockDirectory(_directory);
            foreach (var id in ListSegmentIds())
            {
                var segment = LogSegment.Open(_directory, id, createNew: false);
                _segments.Add(segment);
                _segmentsById[id] = segment;
            }

            var recovery = new SegmentRecovery(_logger);
            live = recovery.Recover(_segments, _durable, _preallocation != SegmentPreallocation.Off, cancellationToken);
            _nextSequence = recovery.NextSequence;
            if (_segments.Count == 0)
            {
                AddSegment(1);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            CloseFiles();
            throw new QueueStoreException(QueueStoreError.Io, $"The queue store {_directory} cannot be opened: {ex.Message}", ex);
        }
        catch
        {
            CloseFiles();
            throw;
        }

        _active = _segments[^1];
        foreach (var message in live)
        {
            _live.Add(message.Sequence);
        }

        // Zeros after the records of the last segment (recovery made sure nothing else follows them) are space ready to
        // be overwritten.
        _active.Preallocated = _preallocation != SegmentPreallocation.Off && _active.FileLength > _active.Length;
        _diskBytes = _segments.Sum(s => s.FileLength);
        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        QueueStoreLog.Opened(_logger, _directory, _segments.Count, _diskBytes, live.Count, _nextSequence, (long)_time.GetElapsedTime(started).TotalMilliseconds);
        return ValueTask.FromResult<IReadOnlyList<StoredMessage>>(live);
    }

    public async ValueTask<StoredMessage> AppendAsync(string session, string topic, string? messageId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(topic);
        if (payload.Length > _options.MaxMessageBytes)
        {
            throw new QueueStoreException(QueueStoreError.TooLarge, $"The message is {payload.Length} bytes; the queue store accepts at most {_options.MaxMessageBytes} bytes.");
        }

        if (QueueRecordFormat.NameBytes(session) > QueueRecordFormat.MaxNameBytes || QueueRecordFormat.NameBytes(topic) > QueueRecordFormat.MaxNameBytes || QueueRecordFormat.NameBytes(messageId) > QueueRecordFormat.MaxNameBytes)
        {
            throw new QueueStoreException(QueueStoreError.TooLarge, $"A session, topic or message id is longer than {QueueRecordFormat.MaxNameBytes} UTF-8 bytes.");
        }

        var stored = await EnqueueAsync(PendingOperation.Append(session, topic, messageId, payload), cancellationToken).ConfigureAwait(false);
        return stored!;
    }

    public async ValueTask ConsumeAsync(StoredMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        await EnqueueAsync(PendingOperation.Consume(message), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask ReleaseAsync(string session, string? topic, IReadOnlyList<StoredMessage> dropped, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(dropped);
        if (QueueRecordFormat.NameBytes(session) > QueueRecordFormat.MaxNameBytes || QueueRecordFormat.NameBytes(topic) > QueueRecordFormat.MaxNameBytes)
        {
            throw new QueueStoreException(QueueStoreError.TooLarge, $"A session or topic is longer than {QueueRecordFormat.MaxNameBytes} UTF-8 bytes.");
        }

        await EnqueueAsync(PendingOperation.Release(session, topic, dropped), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<ReadOnlyMemory<byte>> ReadPayloadAsync(StoredMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (Volatile.Read(ref _state) != 1)
        {
            throw _state == 2 ? Closed() : new InvalidOperationException("The queue store is not open.");
        }

        if (message.CachedPayload is { } cached)
        {
            return cached;
        }

        if (!_segmentsById.TryGetValue(message.SegmentId, out var segment))
        {
            throw NotStored(message, null);
        }

        // Every byte is read into it (a short read throws): no need to zero a large array first.
        var payload = GC.AllocateUninitializedArray<byte>(message.Length);
        try
        {
            var read = 0;
            while (read < payload.Length)
            {
                var n = payload.Length - read >= (1 << 20)
                    ? await RandomAccess.ReadAsync(segment.Handle, payload.AsMemory(read), message.PayloadOffset + read, cancellationToken).ConfigureAwait(false)
                    : RandomAccess.Read(segment.Handle, payload.AsSpan(read), message.PayloadOffset + read);
                if (n == 0)
                {
                    throw NotStored(message, null);
                }

                read += n;
            }
        }
        catch (ObjectDisposedException ex)
        {
            throw Volatile.Read(ref _state) == 2 ? Closed() : NotStored(message, ex);
        }
        catch (IOException ex)
        {
            throw new QueueStoreException(QueueStoreError.Io, $"Reading message {message.Sequence} from queue segment {message.SegmentId} failed: {ex.Message}", ex);
        }

        return payload;
    }

    public async ValueTask DisposeAsync()
    {
        var previous = Interlocked.Exchange(ref _state, 2);
        if (previous == 2)
        {
            return;
        }

        // Operations already queued are still written and completed; later calls fail with Closed.
        _channel.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        if (_spare is { } spare)
        {
            (await spare.ConfigureAwait(false))?.Dispose();
            DeleteSpare();
        }

        CloseFiles();
    }

    /// <summary>Hands <paramref name="operation"/> to the writer loop; the task completes with it. Not async (no state
    /// machine per call): its callers are async methods that await it at once, so what it throws reaches their
    /// callers as it would from an awaited task.</summary>
    private Task<StoredMessage?> EnqueueAsync(PendingOperation operation, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Volatile.Read(ref _state) == 0)
        {
            throw new InvalidOperationException("The queue store is not open.");
        }

        operation.RegisterCancellation(cancellationToken);
        if (!_channel.Writer.TryWrite(operation))
        {
            operation.Fail(Closed());
        }

        return operation.Completion;
    }

    private async Task WriteLoopAsync()
    {
        var reader = _channel.Reader;
        var batch = new List<PendingOperation>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            long bytes = 0;
            while (batch.Count < MaxBatchOperations && bytes < MaxBatchBytes && reader.TryRead(out var operation))
            {
                if (operation.TryTake())
                {
                    batch.Add(operation);
                    bytes += operation.Payload.Length;
                }
            }

            WriteBatch(batch);
        }
    }

    private List<long> ListSegmentIds()
    {
        var ids = new List<long>();
        foreach (var path in Directory.EnumerateFiles(_directory))
        {
            var name = Path.GetFileName(path);
            if (LogSegment.TryParseFileName(name, out var id))
            {
                ids.Add(id);
            }
            else if (name == SpareFileName)
            {
                File.Delete(path); // A spare being prepared when the process stopped; it holds nothing.
            }
            else if (name != LockFileName)
            {
                QueueStoreLog.ForeignFile(_logger, _directory, name);
            }
        }

        ids.Sort();
        return ids;
    }

    private static SafeFileHandle LockDirectory(string directory)
    {
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock on Unix): a second store, in this process or
            // another, cannot open the same directory.
            return File.OpenHandle(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new QueueStoreException(QueueStoreError.Io, $"The queue store {directory} is in use by another store or process.", ex);
        }
    }

    private void CloseFiles()
    {
        foreach (var segment in _segments)
        {
            segment.Handle.Dispose();
        }

        _lock?.Dispose();
    }

    private static QueueStoreException Closed() => new(QueueStoreError.Closed, "The queue store is shut down.");

    private static QueueStoreException NotStored(StoredMessage message, Exception? inner) =>
        new(QueueStoreError.Io, $"Message {message.Sequence} is no longer stored (its segment {message.SegmentId} was reclaimed after it was consumed or released).", inner);
}
