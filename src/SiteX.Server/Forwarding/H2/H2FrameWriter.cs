using System.Buffers;
using System.Runtime.CompilerServices;

namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// The sending side of one HTTP/2 connection: frames from every stream are appended to one buffer under
/// <see cref="Gate"/>, and written to the transport in batches. There is no writer thread: whoever calls
/// <see cref="FlushAsync"/> while no write is in progress writes, and keeps writing what others appended meanwhile;
/// a caller that finds a write in progress returns at once, its frames go with the next batch. A call's own few
/// frames (<see cref="FlushSoonAsync"/>) wait for a thread-pool turn instead, so that other calls' frames share the
/// socket write: on loopback, where a write costs about as much as forwarding a small call, that halves the CPU per call.
/// </summary>
/// <remarks>The connection's flow-control state is guarded by the same <see cref="Gate"/>, so a stream checks the
/// send windows and appends its DATA frames in one step.</remarks>
internal sealed class H2FrameWriter(Stream transport, Action<Exception> onFailure) : IThreadPoolWorkItem
{
    /// <summary>A batch smaller than this, flushed by <see cref="FlushSoonAsync"/>, waits for others to join it; a
    /// larger one (a body moving) is written at once (<see cref="FlushDeferral"/>).</summary>
    public const int DeferBelow = FlushDeferral.Below;

    private const int InitialBuffer = 16 * 1024;
    private const int KeptBuffer = 256 * 1024;

    /// <summary>Bytes buffered above which a stream's DATA waits for the write in progress (<see cref="WaitForRoomAsync"/>),
    /// so a large body moves in batches of this size rather than in one buffer as large as the next hop's window.</summary>
    public const int HighWater = 128 * 1024;

    // Pooled: a large request body grows the buffer to the next hop's window, again and again.
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialBuffer);
    private byte[] _spare = ArrayPool<byte>.Shared.Rent(InitialBuffer);
    private int _length;
    private bool _writing;
    private FlushDeferral _deferral;
    private bool _failed;
    private TaskCompletionSource? _room;

    public Lock Gate { get; } = new();

    /// <summary>Bytes appended and not yet handed to the transport (under <see cref="Gate"/>).</summary>
    public int Buffered => _length;

    /// <summary>The most bytes ever buffered at once (for tests and diagnostics).</summary>
    public int PeakBuffered { get; private set; }

    /// <summary>Completes when the buffer is below <see cref="HighWater"/> again: the write in progress took it (or the
    /// connection failed). Call <see cref="FlushAsync"/> first, so a write is in progress.</summary>
    public ValueTask WaitForRoomAsync()
    {
        lock (Gate)
        {
            if (_length < HighWater || _failed)
            {
                return default;
            }

            _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return new ValueTask(_room.Task);
        }
    }

    /// <summary>Appends a frame (under <see cref="Gate"/>).</summary>
    public void WriteFrame(H2FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var span = Reserve(H2Frame.HeaderLength + payload.Length);
        H2Frame.WriteHeader(span, payload.Length, type, flags, streamId);
        payload.CopyTo(span[H2Frame.HeaderLength..]);
        _length += span.Length;
    }

    /// <summary>Appends bytes that are not a frame: the connection preface (under <see cref="Gate"/>).</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        _length += bytes.Length;
    }

    /// <summary>Appends a DATA frame carrying <paramref name="payload"/> (under <see cref="Gate"/>).</summary>
    public void WriteData(int streamId, in ReadOnlySequence<byte> payload, bool endStream)
    {
        var length = (int)payload.Length;
        var span = Reserve(H2Frame.HeaderLength + length);
        H2Frame.WriteHeader(span, length, H2FrameType.Data, endStream ? H2Frame.EndStream : (byte)0, streamId);
        payload.CopyTo(span[H2Frame.HeaderLength..]);
        _length += span.Length;
        PeakBuffered = Math.Max(PeakBuffered, _length);
    }

    /// <summary>Appends a frame header whose payload the caller writes into the returned span (under
    /// <see cref="Gate"/>).</summary>
    public Span<byte> WriteFrameHeader(H2FrameType type, byte flags, int streamId, int payloadLength)
    {
        var span = Reserve(H2Frame.HeaderLength + payloadLength);
        H2Frame.WriteHeader(span, payloadLength, type, flags, streamId);
        _length += span.Length;
        return span[H2Frame.HeaderLength..];
    }

    private Span<byte> Reserve(int size)
    {
        if (_failed)
        {
            throw new IOException("the HTTP/2 connection to the next hop failed");
        }

        if (_buffer.Length - _length < size)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + size));
            _buffer.AsSpan(0, _length).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = grown;
        }

        return _buffer.AsSpan(_length, size);
    }

    /// <summary>Writes what was appended, unless a write is already in progress (which will take it along). Never
    /// throws: a failed write fails the connection (<c>onFailure</c>), and with it every stream.</summary>
    public ValueTask FlushAsync() => FlushCoreAsync(soon: false);

    /// <summary>As <see cref="FlushAsync"/>, but a batch of less than <see cref="DeferBelow"/> bytes is written by a
    /// thread-pool work item, so that what other streams append until it runs goes in the same socket write (and the
    /// call returns at once). For callers outside the read loop, whose flushes are one call's few frames each.</summary>
    public ValueTask FlushSoonAsync() => FlushCoreAsync(soon: true);

    private ValueTask FlushCoreAsync(bool soon)
    {
        lock (Gate)
        {
            if (_writing || _length == 0 || _failed)
            {
                return default;
            }

            if (soon && _deferral.TryDefer(_length, this))
            {
                return default;
            }

            _writing = true;
        }

        return WriteLoopAsync();
    }

    void IThreadPoolWorkItem.Execute()
    {
        lock (Gate)
        {
            _deferral.Ran();
        }

        Flush(); // nothing, when a flush that came meanwhile wrote it already
    }

    /// <summary><see cref="FlushAsync"/> for callers that do not wait for the write.</summary>
    public void Flush()
    {
        var flush = FlushAsync();
        if (!flush.IsCompletedSuccessfully)
        {
            _ = flush.AsTask();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteLoopAsync()
    {
        while (true)
        {
            byte[] batch;
            int length;
            TaskCompletionSource? room;
            lock (Gate)
            {
                if (_length == 0 || _failed)
                {
                    _writing = false;
                    return;
                }

                (batch, length) = (_buffer, _length);
                _buffer = _spare;
                _length = 0;
                (room, _room) = (_room, null);
            }

            room?.TrySetResult();

            try
            {
                await transport.WriteAsync(batch.AsMemory(0, length)).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                lock (Gate)
                {
                    _failed = true;
                    _writing = false;
                    _length = 0;
                    (room, _room) = (_room, null);
                }

                room?.TrySetResult();
                onFailure(ex);
                return;
            }

            lock (Gate)
            {
                // A burst grew the buffer: keep a moderate one, not the peak.
                if (batch.Length > KeptBuffer)
                {
                    ArrayPool<byte>.Shared.Return(batch);
                    batch = ArrayPool<byte>.Shared.Rent(InitialBuffer);
                }

                _spare = batch;
            }
        }
    }

    /// <summary>Stops accepting frames (the connection is closed).</summary>
    public void Fail()
    {
        TaskCompletionSource? room;
        lock (Gate)
        {
            _failed = true;
            _length = 0;
            (room, _room) = (_room, null);
        }

        room?.TrySetResult();
    }
}
