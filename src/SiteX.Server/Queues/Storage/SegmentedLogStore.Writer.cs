using Microsoft.Extensions.Logging;
using SiteX.Server.Diagnostics;

namespace SiteX.Server.Queues.Storage;

/// <summary>The writer loop's side of <see cref="SegmentedLogStore"/>: batching, segment roll-over, flush and
/// reclaim. Everything here runs on the writer loop only.</summary>
internal sealed partial class SegmentedLogStore
{
    private void WriteBatch(List<PendingOperation> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        _written.Clear();
        _durableCount = 0;
        try
        {
            if (_fault is not null)
            {
                throw new QueueStoreException(QueueStoreError.Io, "The queue store failed an earlier write and accepts no more until it is restarted.", _fault);
            }

            if (!_active.Preallocated && _spare is { IsCompleted: true })
            {
                // The active segment grows with each write (a fresh store, or no spare was ready at the last roll):
                // move on to the pre-allocated spare now rather than when this one is full.
                StartSegment(_active.Id + 1);
                Buffer(null, QueueRecordFormat.BuildCheckpoint(_nextSequence));
            }

            foreach (var operation in batch)
            {
                switch (operation.Type)
                {
                    case QueueRecordType.Append:
                        BufferAppend(operation);
                        break;
                    case QueueRecordType.Consume:
                        if (_live.Contains(operation.Messages[0].Sequence))
                        {
                            Buffer(operation, QueueRecordFormat.BuildConsume(operation.Messages[0].Sequence));
                        }
                        else
                        {
                            operation.Succeed(); // Already consumed or released: nothing to record.
                        }

                        break;
                    default:
                        Buffer(operation, QueueRecordFormat.BuildRelease(operation.Session, operation.Topic));
                        break;
                }
            }

            Flush();
            PrepareSpareIfDue(); // Before the batch completes, so a caller that saw its append done sees the spare started.
        }
        catch (Exception ex)
        {
            if (ex is not QueueStoreException { Error: QueueStoreError.Io })
            {
                _fault ??= ex;
                QueueStoreLog.WriteFailed(_logger, ex);
            }

            _buffers.Clear();
            _bufferedBytes = 0;
            var error = ex as QueueStoreException ?? new QueueStoreException(QueueStoreError.Io, "The queue store could not write to disk; it accepts no more writes until it is restarted.", ex);
            foreach (var operation in batch)
            {
                if (!operation.Completion.IsCompleted && _written.IndexOf(operation) is var index && (index < 0 || index >= _durableCount))
                {
                    operation.Fail(error);
                }
            }
        }

        // Apply, reclaim, then answer: a caller whose consume or release returned sees the space it freed.
        var durable = ApplyDurable();
        _releasedSinceStartOver |= batch.Exists(o => o.Type == QueueRecordType.Release);
        Reclaim(startOverWhenEmpty: _releasedSinceStartOver);
        var recordBytes = 0L;
        foreach (var segment in _segments)
        {
            recordBytes += segment.Length;
        }

        Volatile.Write(ref _recordBytes, recordBytes);
        PrepareSpareIfDue();
        for (var i = 0; i < durable; i++)
        {
            _written[i].Succeed();
        }

        _written.Clear();
        _durableCount = 0;
    }

    private static int CheckpointSize => QueueRecordFormat.HeaderSize + 8;

    /// <summary>Pre-allocation pays when flushes are small (the journal commit it saves is a fixed cost per flush); with
    /// large flushes (big messages) writing every segment twice costs more than it saves (measured: 1 MiB appends
    /// were slower with it), so no spare is prepared while the recent flushes average more than this.</summary>
    private const double PreallocateBelowFlushBytes = 1 << 20;

    /// <summary>Bytes the active segment may hold with nothing live before it is replaced by a fresh one.</summary>
    private static long StartOverThreshold(bool afterRelease) => afterRelease ? 64 : 4 * 1024 * 1024;

    private void BufferAppend(PendingOperation operation)
    {
        var payload = operation.Payload;
        var size = QueueRecordFormat.HeaderSize + QueueRecordFormat.AppendPrefixSize(operation.Session, operation.Topic!, operation.MessageId) + (long)payload.Length;
        // The quota counts bytes on disk: writing into pre-allocated space costs nothing more, a new segment costs what
        // its file will take beyond the spare already counted.
        var end = _active.Length + _bufferedBytes;
        var roll = end > 0 && end + size > _options.SegmentBytes;
        var used = DiskBytes + Math.Max(0, end - _active.FileLength);
        var needed = roll
            ? (_spare is null ? CheckpointSize + size : Math.Max(0, CheckpointSize + size - _spareBytes))
            : Math.Max(0, end + size - Math.Max(end, _active.FileLength));
        if (used + needed > _options.MaxDiskBytes)
        {
            operation.Fail(new QueueStoreException(QueueStoreError.QuotaExceeded, $"The queue store is full: it holds {used} bytes of its {_options.MaxDiskBytes}-byte quota and the message needs {size}."));
            return;
        }

        if (roll)
        {
            Flush();
            StartSegment(_active.Id + 1);
            Buffer(null, QueueRecordFormat.BuildCheckpoint(_nextSequence));
        }

        var inline = payload.Length <= _options.CacheMessagesUpToBytes;
        var record = QueueRecordFormat.BuildAppend(_nextSequence, _time.GetUtcNow().ToUnixTimeMilliseconds(), operation.Session, operation.Topic!, operation.MessageId, payload.Span, inline, out var prefixSize);
        var payloadAt = QueueRecordFormat.HeaderSize + prefixSize;
        operation.Result = new StoredMessage
        {
            Sequence = _nextSequence++,
            Session = operation.Session,
            Topic = operation.Topic!,
            MessageId = operation.MessageId,
            Length = payload.Length,
            AppendedAtMs = BitConverter.ToInt64(record, QueueRecordFormat.HeaderSize + 8),
            SegmentId = _active.Id,
            PayloadOffset = _active.Length + _bufferedBytes + payloadAt,
            CachedPayload = inline ? (ReadOnlyMemory<byte>?)record.AsMemory(payloadAt, payload.Length) : null,
        };
        Buffer(operation, record);
        if (!inline)
        {
            _buffers.Add(payload);
            _bufferedBytes += payload.Length;
        }
    }

    private void Buffer(PendingOperation? operation, byte[] record)
    {
        _buffers.Add(record);
        _bufferedBytes += record.Length;
        if (operation is not null)
        {
            _written.Add(operation);
        }
    }

    /// <summary>Writes the buffered records to the active segment with gathered writes, then flushes them per the
    /// durability policy; the operations written so far are then durable.</summary>
    private void Flush()
    {
        if (_buffers.Count > 0)
        {
            var offset = _active.Length;
            for (var i = 0; i < _buffers.Count; i += MaxBuffersPerWrite)
            {
                var count = Math.Min(MaxBuffersPerWrite, _buffers.Count - i);
                IReadOnlyList<ReadOnlyMemory<byte>> slice = i == 0 && count == _buffers.Count ? _buffers : _buffers.GetRange(i, count);
                RandomAccess.Write(_active.Handle, slice, offset);
                for (var j = i; j < i + count; j++)
                {
                    offset += _buffers[j].Length;
                }
            }

            _averageFlushBytes += (offset - _active.Length - _averageFlushBytes) / 16;
            _active.Length = offset;
            if (offset > _active.FileLength)
            {
                Interlocked.Add(ref _diskBytes, offset - _active.FileLength);
                _active.FileLength = offset;
            }

            _buffers.Clear();
            _bufferedBytes = 0;
            if (_durable)
            {
                FileSync.FlushData(_active.Handle);
            }
        }

        _durableCount = _written.Count;
    }

    /// <summary>Starts segment <paramref name="id"/> and makes it the active one (at open, on an empty directory).</summary>
    private void AddSegment(long id)
    {
        var segment = LogSegment.Open(_directory, id, createNew: true);
        _segments.Add(segment);
        _segmentsById[id] = segment;
        _active = segment;
        if (_durable)
        {
            FileSync.FlushDirectory(_directory);
        }
    }

    /// <summary>Seals the active segment (its zero tail cut off, so only the active segment has unused space) and
    /// makes segment <paramref name="id"/> the active one: the pre-allocated spare renamed, when one is ready, else a new
    /// file that grows as it is written (never waiting for the spare: the next batch moves on to it once it is ready).</summary>
    private void StartSegment(long id)
    {
        var sealedSegment = _active;
        if (sealedSegment.FileLength > sealedSegment.Length)
        {
            RandomAccess.SetLength(sealedSegment.Handle, sealedSegment.Length);
            if (_durable)
            {
                RandomAccess.FlushToDisk(sealedSegment.Handle);
            }

            Interlocked.Add(ref _diskBytes, sealedSegment.Length - sealedSegment.FileLength);
            sealedSegment.FileLength = sealedSegment.Length;
        }

        sealedSegment.Preallocated = false;
        LogSegment? segment = null;
        if (_spare is { IsCompleted: true } spare)
        {
            _spare = null;
            var handle = spare.GetAwaiter().GetResult();
            if (handle is null)
            {
                Interlocked.Add(ref _diskBytes, -_spareBytes);
                DeleteSpare();
            }
            else
            {
                var path = Path.Combine(_directory, LogSegment.FileName(id));
                try
                {
                    File.Move(Path.Combine(_directory, SpareFileName), path);
                }
                catch
                {
                    handle.Dispose();
                    Interlocked.Add(ref _diskBytes, -_spareBytes);
                    throw;
                }

                segment = new LogSegment(id, path, handle, 0) { FileLength = _spareBytes, Preallocated = true };
            }
        }

        segment ??= LogSegment.Open(_directory, id, createNew: true);
        _segments.Add(segment);
        _segmentsById[id] = segment;
        _active = segment;
        if (_durable)
        {
            FileSync.FlushDirectory(_directory);
        }
    }

    /// <summary>Starts preparing the next segment in the background (zeros written and flushed) when the active one
    /// is half full, or grows as written, and the quota has room for it. The writer renames it at the next roll.</summary>
    private void PrepareSpareIfDue()
    {
        if (_preallocation == SegmentPreallocation.Off || _spare is not null || _fault is not null || Volatile.Read(ref _state) != 1
            || (_active.Preallocated && _active.Length < _options.SegmentBytes / 2)
            || _averageFlushBytes > PreallocateBelowFlushBytes
            || DiskBytes + _options.SegmentBytes > _options.MaxDiskBytes)
        {
            return;
        }

        var bytes = _spareBytes = _options.SegmentBytes;
        var path = Path.Combine(_directory, SpareFileName);
        var useFallocate = _preallocation == SegmentPreallocation.Fallocate;
        Interlocked.Add(ref _diskBytes, bytes);
        _spare = Task.Run(() =>
        {
            Microsoft.Win32.SafeHandles.SafeFileHandle? handle = null;
            try
            {
                File.Delete(path);
                handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                FileSync.WriteZeros(handle, 0, bytes, useFallocate);
                return handle;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                handle?.Dispose();
                QueueStoreLog.PreallocationFailed(_logger, ex);
                return null;
            }
        });
    }

    private void DeleteSpare()
    {
        try
        {
            File.Delete(Path.Combine(_directory, SpareFileName));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            QueueStoreLog.PreallocationFailed(_logger, ex);
        }
    }

    /// <summary>Applies the durable operations of the batch to the live set; returns how many there are (the first
    /// ones of <see cref="_written"/>), which the caller then completes.</summary>
    private int ApplyDurable()
    {
        for (var i = 0; i < _durableCount; i++)
        {
            var operation = _written[i];
            if (operation.Type == QueueRecordType.Append)
            {
                var message = operation.Result!;
                _live.Add(message.Sequence);
                _segmentsById[message.SegmentId].LiveAppends++;
            }
            else
            {
                foreach (var message in operation.Messages)
                {
                    if (_live.Remove(message.Sequence) && _segmentsById.TryGetValue(message.SegmentId, out var segment))
                    {
                        segment.LiveAppends--;
                    }
                }
            }
        }

        return _durableCount;
    }

    /// <summary>Deletes segments from the oldest end while the oldest one is not active and holds no live append.
    /// When nothing is live any more and the active segment has grown (or a release just emptied the store), a fresh
    /// segment starts, so that every older file can go: a released store keeps only a checkpoint record on disk.</summary>
    private void Reclaim(bool startOverWhenEmpty)
    {
        if (_live.Count == 0 && _fault is null && _active.Length > StartOverThreshold(startOverWhenEmpty))
        {
            _releasedSinceStartOver = false;
            try
            {
                StartSegment(_active.Id + 1);
                Buffer(null, QueueRecordFormat.BuildCheckpoint(_nextSequence));
                Flush();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _fault ??= ex;
                QueueStoreLog.WriteFailed(_logger, ex);
                return;
            }
        }

        while (_segments.Count > 1 && _segments[0] != _active && _segments[0].LiveAppends <= 0)
        {
            var segment = _segments[0];
            try
            {
                File.Delete(segment.Path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                QueueStoreLog.SegmentDeleteFailed(_logger, segment.Id, ex);
                return;
            }

            _segments.RemoveAt(0);
            _segmentsById.TryRemove(segment.Id, out _);
            segment.Handle.Dispose();
            Interlocked.Add(ref _diskBytes, -segment.FileLength);
            QueueStoreLog.SegmentReclaimed(_logger, segment.Id, segment.FileLength);
        }
    }
}
