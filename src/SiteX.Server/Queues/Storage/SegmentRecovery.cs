using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using SiteX.Server.Diagnostics;

namespace SiteX.Server.Queues.Storage;

/// <summary>
/// Rebuilds the live messages from the segments at open: verifies every record's framing and CRC, cuts a torn or
/// corrupt tail off the last segment, skips the rest of an older segment after a corrupt record, and applies
/// consumes and releases (a release drops every earlier append of its session, or of its session and topic).
/// </summary>
/// <remarks>
/// Segments may be pre-allocated: zeros after the last record. A header that starts with magic 0 (or fewer than a
/// header's bytes left) followed by nothing but zeros to the end of the file is the clean end of the log, not
/// corruption. Zeros followed by anything non-zero are not: an unacknowledged batch can reach the disk in any order
/// of pages, so that is a torn tail like any other. A torn tail of the last segment is zeroed (pre-allocated mode,
/// so no stale record can ever be read back after later appends stop short of it) or cut off (otherwise).
/// </remarks>
internal sealed class SegmentRecovery(ILogger logger)
{
    private const int WindowBytes = 4 << 20;

    private readonly Dictionary<long, StoredMessage> _live = [];
    private readonly Dictionary<string, Dictionary<long, StoredMessage>> _liveBySession = new(StringComparer.Ordinal);
    private byte[] _window = [];
    private long _windowStart;
    private int _windowLength;

    /// <summary>The sequence the next append gets.</summary>
    public long NextSequence { get; private set; } = 1;

    /// <summary>Scans <paramref name="segments"/> (oldest first) and returns the live messages in append order; sets
    /// each segment's <see cref="LogSegment.LiveAppends"/>.</summary>
    /// <remarks>With <paramref name="keepAllocation"/> a torn tail of the last segment is overwritten with zeros instead
    /// of cut off, so the file keeps its pre-allocated blocks. Sets each segment's <see cref="LogSegment.Length"/> (the
    /// end of its records) and <see cref="LogSegment.FileLength"/>.</remarks>
    public List<StoredMessage> Recover(IReadOnlyList<LogSegment> segments, bool durable, bool keepAllocation, CancellationToken cancellationToken)
    {
        _window = ArrayPool<byte>.Shared.Rent(WindowBytes);
        try
        {
            for (var i = 0; i < segments.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Scan(segments[i], isLast: i == segments.Count - 1, durable, keepAllocation);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(_window);
            _window = [];
        }

        var live = _live.Values.ToList();
        live.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
        var byId = segments.ToDictionary(s => s.Id);
        foreach (var message in live)
        {
            byId[message.SegmentId].LiveAppends++;
        }

        return live;
    }

    private void Scan(LogSegment segment, bool isLast, bool durable, bool keepAllocation)
    {
        _windowLength = 0;
        var length = segment.FileLength;
        long position = 0;
        string? problem = null;
        Span<byte> header = stackalloc byte[QueueRecordFormat.HeaderSize];
        while (position < length)
        {
            if (length - position < QueueRecordFormat.HeaderSize)
            {
                problem = EndOfNonZero(segment, position) == position ? null : "incomplete header";
                break;
            }

            Window(segment, position, QueueRecordFormat.HeaderSize).CopyTo(header);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) == 0)
            {
                // Pre-allocated space: the end of the log if only zeros follow.
                problem = EndOfNonZero(segment, position) == position ? null : "zeros followed by data";
                break;
            }

            if (!QueueRecordFormat.TryReadHeader(header, out var bodyLength, out var crc, out var type))
            {
                problem = "bad magic or record type";
                break;
            }

            var bodyStart = position + QueueRecordFormat.HeaderSize;
            if (bodyLength > length - bodyStart)
            {
                problem = "record runs past the end of the segment";
                break;
            }

            if (ComputeCrc(segment, type, bodyStart, bodyLength) != crc)
            {
                problem = "CRC mismatch";
                break;
            }

            var body = Window(segment, bodyStart, (int)Math.Min(bodyLength, (long)QueueRecordFormat.MaxAppendPrefixBytes));
            if (!Apply(segment, type, body, bodyStart, bodyLength))
            {
                problem = "malformed " + type + " record";
                break;
            }

            position = bodyStart + bodyLength;
        }

        segment.Length = position;
        if (problem is null)
        {
            return;
        }

        if (isLast)
        {
            if (keepAllocation)
            {
                // Overwrite the torn bytes with zeros and keep the file's blocks for the appends to come.
                var end = EndOfNonZero(segment, position);
                QueueStoreLog.TailTruncated(logger, segment.Id, position, problem, end - position);
                FileSync.WriteZeros(segment.Handle, position, end, useFallocate: false);
            }
            else
            {
                QueueStoreLog.TailTruncated(logger, segment.Id, position, problem, length - position);
                RandomAccess.SetLength(segment.Handle, position);
                segment.FileLength = position;
            }

            if (durable)
            {
                RandomAccess.FlushToDisk(segment.Handle);
            }
        }
        else
        {
            QueueStoreLog.SegmentCorrupt(logger, segment.Id, position, problem, length - position);
        }
    }

    /// <summary>The offset just past the last non-zero byte at or after <paramref name="from"/> (so
    /// <paramref name="from"/> itself when only zeros follow).</summary>
    private long EndOfNonZero(LogSegment segment, long from)
    {
        var end = from;
        for (var position = from; position < segment.FileLength;)
        {
            var chunk = (int)Math.Min(segment.FileLength - position, WindowBytes);
            var last = Window(segment, position, chunk).LastIndexOfAnyExcept((byte)0);
            if (last >= 0)
            {
                end = position + last + 1;
            }

            position += chunk;
        }

        return end;
    }

    private bool Apply(LogSegment segment, QueueRecordType type, ReadOnlySpan<byte> body, long bodyStart, long bodyLength)
    {
        switch (type)
        {
            case QueueRecordType.Append:
                if (!QueueRecordFormat.TryParseAppendPrefix(body, bodyLength, out var sequence, out var unixMs, out var session, out var topic, out var messageId, out var prefixSize))
                {
                    return false;
                }

                var message = new StoredMessage
                {
                    Sequence = sequence,
                    Session = session,
                    Topic = topic,
                    MessageId = messageId,
                    Length = (int)(bodyLength - prefixSize),
                    AppendedAtMs = unixMs,
                    SegmentId = segment.Id,
                    PayloadOffset = bodyStart + prefixSize,
                };
                if (!_live.TryAdd(sequence, message))
                {
                    return false;
                }

                if (!_liveBySession.TryGetValue(session, out var ofSession))
                {
                    _liveBySession[session] = ofSession = [];
                }

                ofSession[sequence] = message;
                NextSequence = Math.Max(NextSequence, sequence + 1);
                return true;

            case QueueRecordType.Consume:
                if (!QueueRecordFormat.TryParseSequence(body, out var consumed))
                {
                    return false;
                }

                if (_live.Remove(consumed, out var gone))
                {
                    _liveBySession[gone.Session].Remove(consumed);
                }

                return true;

            case QueueRecordType.Release:
                if (!QueueRecordFormat.TryParseRelease(body, out var releasedSession, out var releasedTopic))
                {
                    return false;
                }

                Release(releasedSession, releasedTopic);
                return true;

            case QueueRecordType.Checkpoint:
                if (!QueueRecordFormat.TryParseSequence(body, out var next))
                {
                    return false;
                }

                NextSequence = Math.Max(NextSequence, next);
                return true;

            default:
                return false;
        }
    }

    private void Release(string session, string? topic)
    {
        if (!_liveBySession.TryGetValue(session, out var ofSession))
        {
            return;
        }

        foreach (var message in ofSession.Values.ToList())
        {
            if (topic is null || string.Equals(message.Topic, topic, StringComparison.Ordinal))
            {
                ofSession.Remove(message.Sequence);
                _live.Remove(message.Sequence);
            }
        }

        if (ofSession.Count == 0)
        {
            _liveBySession.Remove(session);
        }
    }

    private uint ComputeCrc(LogSegment segment, QueueRecordType type, long bodyStart, long bodyLength)
    {
        var state = Crc32C.Update(Crc32C.Initial, (byte)type);
        var position = bodyStart;
        var end = bodyStart + bodyLength;
        while (position < end)
        {
            var chunk = (int)Math.Min(end - position, WindowBytes);
            state = Crc32C.Update(state, Window(segment, position, chunk));
            position += chunk;
        }

        return Crc32C.Finish(state);
    }

    /// <summary>Bytes [position, position + count) of the segment, through a read-ahead window; the caller made sure
    /// they exist and count is at most the window size.</summary>
    private ReadOnlySpan<byte> Window(LogSegment segment, long position, int count)
    {
        if (position < _windowStart || position + count > _windowStart + _windowLength)
        {
            var want = (int)Math.Min(WindowBytes, segment.FileLength - position);
            var read = 0;
            while (read < want)
            {
                var n = RandomAccess.Read(segment.Handle, _window.AsSpan(read, want - read), position + read);
                if (n == 0)
                {
                    throw new IOException($"Queue segment {segment.Id} is shorter than expected.");
                }

                read += n;
            }

            (_windowStart, _windowLength) = (position, read);
        }

        return _window.AsSpan((int)(position - _windowStart), count);
    }
}
