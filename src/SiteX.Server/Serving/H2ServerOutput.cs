using System.Buffers.Binary;
using System.IO.Pipelines;
using SiteX.Server.Forwarding.H2;

namespace SiteX.Server.Serving;

/// <summary>
/// The sending side of one server connection: frames are written straight into the transport's pipe under
/// <see cref="Gate"/> (no buffer of its own, so no copy of its own), and one flush at a time hands them to the socket.
/// </summary>
/// <remarks>
/// A writer that finds a flush in progress leaves its frames in the pipe; the flush loop flushes again when the one in
/// progress completes. A response's own few frames (<see cref="FlushSoon"/>) wait for a thread-pool turn before the
/// flush, so that responses finishing meanwhile share the socket write (with inline I/O, every flush would otherwise be
/// a write of its own). Response DATA waits for the flush (<see cref="WaitForFlushAsync"/>) so a caller that does not read
/// holds back its streams instead of growing the pipe; control frames (SETTINGS and PING acknowledgements, WINDOW_UPDATE,
/// RST_STREAM) never wait. The connection's send window is guarded by the same gate.
/// </remarks>
internal sealed class H2ServerOutput(PipeWriter transport) : IThreadPoolWorkItem
{
    /// <summary>Unflushed bytes below which <see cref="FlushSoon"/> waits for others to join them; more (a body moving)
    /// are flushed at once (<see cref="FlushDeferral"/>).</summary>
    public const int DeferBelow = FlushDeferral.Below;

    /// <summary>Bytes written and not yet taken by the socket above which response DATA waits for the flush.</summary>
    public const int MaxBacklog = 1024 * 1024;

    private bool _flushing;
    private FlushDeferral _deferral;
    private bool _unflushed;
    private long _committed;
    private long _flushIssuedAt;
    private long _flushedUpTo;
    private bool _closed;
    private TaskCompletionSource? _flushed;

    public Lock Gate { get; } = new();

    /// <summary>The peer's connection-level window for DATA this side sends (under <see cref="Gate"/>).</summary>
    public long SendWindow { get; set; } = H2Frame.DefaultWindowSize;

    /// <summary>The largest frame payload the peer accepts (its SETTINGS_MAX_FRAME_SIZE; under <see cref="Gate"/>).</summary>
    public int PeerMaxFrameSize { get; set; } = H2Frame.DefaultMaxFrameSize;

    /// <summary>Whether the connection stopped sending (under <see cref="Gate"/>).</summary>
    public bool IsClosed => _closed;

    /// <summary>Whether a flush is in progress: the socket has not taken what was written (under <see cref="Gate"/>).</summary>
    public bool IsFlushing => _flushing;

    /// <summary>Bytes written since the last flush that completed (under <see cref="Gate"/>).</summary>
    public long Backlog => _committed - _flushedUpTo;

    /// <summary>Bytes of answers to the caller's own frames (PING and SETTINGS acknowledgements) written since a flush
    /// last completed (under <see cref="Gate"/>): they grow only while the caller does not read.</summary>
    public long UnreadAnswers { get; private set; }

    /// <summary>Writes an answer to a frame of the caller (<see cref="UnreadAnswers"/>; under <see cref="Gate"/>).</summary>
    public void WriteAnswer(H2FrameType type, int streamId, ReadOnlySpan<byte> payload)
    {
        if (!_closed)
        {
            WriteFrame(type, H2Frame.Ack, streamId, payload);
            UnreadAnswers += H2Frame.HeaderLength + payload.Length;
        }
    }

    /// <summary>Writes a frame header and reserves its payload (under <see cref="Gate"/>): the caller fills
    /// <paramref name="payloadLength"/> bytes of the returned span and then calls <see cref="Commit"/>.</summary>
    public Span<byte> BeginFrame(H2FrameType type, byte flags, int streamId, int payloadLength)
    {
        var span = transport.GetSpan(H2Frame.HeaderLength + payloadLength);
        H2Frame.WriteHeader(span, payloadLength, type, flags, streamId);
        return span.Slice(H2Frame.HeaderLength, payloadLength);
    }

    /// <summary>Ends a frame begun with <see cref="BeginFrame"/> (under <see cref="Gate"/>).</summary>
    public void Commit(int payloadLength)
    {
        transport.Advance(H2Frame.HeaderLength + payloadLength);
        _committed += H2Frame.HeaderLength + payloadLength;
        _unflushed = true;
    }

    /// <summary>Writes a whole frame (under <see cref="Gate"/>); nothing when the connection stopped sending.</summary>
    public void WriteFrame(H2FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        if (_closed)
        {
            return;
        }

        payload.CopyTo(BeginFrame(type, flags, streamId, payload.Length));
        Commit(payload.Length);
    }

    /// <summary>Writes RST_STREAM with <paramref name="code"/> (under <see cref="Gate"/>); nothing when the connection
    /// stopped sending.</summary>
    public void WriteRstStream(int streamId, H2ErrorCode code) => WriteUInt32Frame(H2FrameType.RstStream, streamId, (uint)code);

    /// <summary>Writes WINDOW_UPDATE (under <see cref="Gate"/>); nothing when the connection stopped sending.</summary>
    public void WriteWindowUpdate(int streamId, int increment) => WriteUInt32Frame(H2FrameType.WindowUpdate, streamId, (uint)increment);

    private void WriteUInt32Frame(H2FrameType type, int streamId, uint value)
    {
        if (!_closed)
        {
            BinaryPrimitives.WriteUInt32BigEndian(BeginFrame(type, 0, streamId, 4), value);
            Commit(4);
        }
    }

    /// <summary>Hands what was written to the socket, unless a flush is in progress (then that flush takes it).
    /// Call outside <see cref="Gate"/>.</summary>
    public void Flush() => FlushCore(soon: false);

    /// <summary>As <see cref="Flush"/>, but less than <see cref="DeferBelow"/> bytes are handed over by a thread-pool
    /// work item, so that what other streams write until it runs goes in the same socket write. For writers outside the
    /// read loop, whose flushes are one response's few frames each.</summary>
    public void FlushSoon() => FlushCore(soon: true);

    private void FlushCore(bool soon)
    {
        ValueTask<FlushResult> flush;
        lock (Gate)
        {
            if (_flushing || !_unflushed || _closed)
            {
                return;
            }

            if (soon && _deferral.TryDefer(_committed - _flushedUpTo, this))
            {
                return;
            }

            if (!TryStartFlushLocked(out flush))
            {
                return;
            }

            if (flush.IsCompletedSuccessfully)
            {
                OnFlushedLocked(flush.Result);
                return;
            }

            _flushing = true;
        }

        _ = FlushLoopAsync(flush);
    }

    void IThreadPoolWorkItem.Execute()
    {
        lock (Gate)
        {
            _deferral.Ran();
        }

        Flush(); // nothing, when a flush that came meanwhile handed it over already
    }

    /// <summary>Completes when the socket has taken all but <see cref="MaxBacklog"/> bytes of what was written (or the
    /// connection stopped sending).</summary>
    public ValueTask WaitForFlushAsync()
    {
        lock (Gate)
        {
            if (!_flushing || _closed || Backlog <= MaxBacklog)
            {
                return default;
            }

            _flushed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return new ValueTask(_flushed.Task);
        }
    }

    /// <summary>Stops sending: later frames are dropped and waiters released.</summary>
    public void Close()
    {
        lock (Gate)
        {
            CloseLocked();
        }
    }

    private void CloseLocked()
    {
        _closed = true;
        _flushing = false;
        _flushed?.TrySetResult();
        _flushed = null;
    }

    /// <summary>A flush completed (under <see cref="Gate"/>): what it was issued for left, and the acknowledgements
    /// with it; a transport that completed or cancelled closes the output.</summary>
    private void OnFlushedLocked(FlushResult result)
    {
        _flushedUpTo = _flushIssuedAt;
        UnreadAnswers = 0;
        if (result.IsCompleted || result.IsCanceled)
        {
            CloseLocked();
        }
    }

    /// <summary>Hands everything written so far to the transport (under <see cref="Gate"/>); false when the transport
    /// failed, and the output is then closed.</summary>
    private bool TryStartFlushLocked(out ValueTask<FlushResult> flush)
    {
        _unflushed = false;
        _flushIssuedAt = _committed;
        try
        {
            flush = transport.FlushAsync();
            return true;
        }
        catch (Exception)
        {
            flush = default;
            CloseLocked();
            return false;
        }
    }

    private async Task FlushLoopAsync(ValueTask<FlushResult> flush)
    {
        while (true)
        {
            FlushResult result;
            try
            {
                result = await flush.ConfigureAwait(false);
            }
            catch (Exception)
            {
                Close();
                return;
            }

            TaskCompletionSource? flushed;
            lock (Gate)
            {
                OnFlushedLocked(result);
                if (_closed)
                {
                    return; // closing released the waiters
                }

                if (_unflushed)
                {
                    if (!TryStartFlushLocked(out flush))
                    {
                        return;
                    }

                    continue;
                }

                _flushing = false;
                flushed = _flushed;
                _flushed = null;
            }

            flushed?.TrySetResult();
            return;
        }
    }
}
