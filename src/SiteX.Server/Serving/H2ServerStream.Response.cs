using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using SiteX.Server.Forwarding.H2;
using SiteX.Server.Internal;

namespace SiteX.Server.Serving;

/// <summary>The response side of <see cref="H2ServerStream"/>: headers, body, trailers, and the end of the stream.</summary>
internal sealed partial class H2ServerStream
{
    private const int ChunkSize = 32 * 1024;

    /// <summary>Chunks of the usual size come from a pool of their own: with many responses in flight, each holding a
    /// chunk or two while it waits for window, the shared pool's per-core caches run dry and every rent allocates.</summary>
    private static readonly ArrayPool<byte> s_chunks = ArrayPool<byte>.Create(ChunkSize, 512);

    /// <summary>Body bytes a stream may keep waiting for the caller's window before its flushes wait too.</summary>
    private const int MaxPendingBytes = 256 * 1024;

    // Written by the application only (no lock): the body since the last flush.
    private readonly List<(byte[] Array, int Length)> _filled = [];
    private byte[]? _chunk;
    private int _chunkLength;
    private long _unflushed;

    // Under the connection's output gate.
    private bool _started;
    private bool _headersWritten;
    private bool _endSent;
    private bool _closedForSending;
    private Queue<PendingChunk>? _pending; // created when a chunk first waits for window
    private long _pendingBytes;
    private TaskCompletionSource<FlushResult>? _windowWaiter;

    /// <summary>The caller's window for DATA on this stream (under the output gate).</summary>
    public long SendWindow { get; set; }

    /// <summary>Whether the stream has body bytes waiting for window (under the output gate).</summary>
    public bool WaitingForWindow => PendingCount > 0;

    private int PendingCount => _pending?.Count ?? 0;

    /// <summary>Whether the response ended or the stream was reset: nothing more is sent on it.</summary>
    public bool ResponseClosed => _endSent || _closedForSending;

    private H2ServerOutput Output => _connection.Output;

    private long UnflushedResponseBytes => _unflushed;

    private Memory<byte> GetResponseMemory(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_chunk is not null && _chunk.Length - _chunkLength >= sizeHint)
        {
            return _chunk.AsMemory(_chunkLength);
        }

        if (_chunk is not null)
        {
            if (_chunkLength > 0)
            {
                _filled.Add((_chunk, _chunkLength));
            }
            else
            {
                ReturnChunk(_chunk);
            }
        }

        _chunk = RentChunk(sizeHint);
        _chunkLength = 0;
        return _chunk;
    }

    private static byte[] RentChunk(int sizeHint) =>
        sizeHint <= ChunkSize ? s_chunks.Rent(ChunkSize) : MessageBufferPool.Pool.Rent(sizeHint);

    private static void ReturnChunk(byte[] array)
    {
        if (array.Length == ChunkSize)
        {
            s_chunks.Return(array);
        }
        else
        {
            MessageBufferPool.Pool.Return(array);
        }
    }

    private void AdvanceResponse(int bytes)
    {
        if (_chunk is null || (uint)bytes > (uint)(_chunk.Length - _chunkLength))
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), "more bytes than the buffer last returned");
        }

        _chunkLength += bytes;
        _unflushed += bytes;
    }

    private ValueTask<FlushResult> FlushResponseAsync(CancellationToken cancellationToken)
    {
        if (!_started)
        {
            return StartAndFlushAsync(cancellationToken);
        }

        Task<FlushResult>? waitForWindow;
        bool closed;
        lock (Output.Gate)
        {
            closed = ResponseClosed || Output.IsClosed;
            if (closed)
            {
                DropUnflushed();
                waitForWindow = null;
            }
            else
            {
                if (!_headersWritten)
                {
                    WriteHeaderBlockLocked(ResponseHeaders, isTrailers: false, endStream: false);
                }

                waitForWindow = SendUnflushedLocked();
            }
        }

        Output.FlushSoon();
        if (closed)
        {
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
        }

        if (waitForWindow is not null)
        {
            return new ValueTask<FlushResult>(waitForWindow.WaitAsync(cancellationToken));
        }

        var flushing = Output.WaitForFlushAsync();
        return flushing.IsCompletedSuccessfully ? default : AwaitOutput(flushing, cancellationToken);
    }

    private static async ValueTask<FlushResult> AwaitOutput(ValueTask flushing, CancellationToken cancellationToken)
    {
        await flushing.AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
        return default;
    }

    private async ValueTask<FlushResult> StartAndFlushAsync(CancellationToken cancellationToken)
    {
        await StartResponseAsync().ConfigureAwait(false);
        return await FlushResponseAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task StartResponseAsync()
    {
        if (_started)
        {
            return;
        }

        await FireOnStartingAsync().ConfigureAwait(false);
        _started = true;
    }

    /// <summary>Writes the body written since the last flush as DATA, as far as the windows allow; the rest goes to
    /// <see cref="_pending"/> and the returned task completes when it is sent (under the output gate).</summary>
    private Task<FlushResult>? SendUnflushedLocked()
    {
        foreach (var (array, length) in _filled)
        {
            SendLocked(array, length);
        }

        _filled.Clear();
        if (_chunk is not null && _chunkLength > 0)
        {
            // Sent and returned to the pool, or queued: either way the stream holds no chunk between messages (10 000
            // open streams would otherwise hold 320 MiB).
            SendLocked(_chunk, _chunkLength);
            _chunk = null;
            _chunkLength = 0;
        }

        _unflushed = 0;
        if (PendingCount == 0)
        {
            return null;
        }

        // Up to MaxPendingBytes wait for window without holding the application back (as a pipe's pause threshold).
        _connection.WaitForWindowLocked(this);
        if (_pendingBytes <= MaxPendingBytes)
        {
            return null;
        }

        _windowWaiter ??= new TaskCompletionSource<FlushResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        return _windowWaiter.Task;
    }

    /// <summary>Sends <paramref name="length"/> bytes of the chunk <paramref name="array"/> as DATA frames and returns it
    /// to the pool; what the windows do not allow is queued, and the queue owns the chunk (under the output gate).</summary>
    private void SendLocked(byte[] array, int length)
    {
        var offset = PendingCount == 0 ? WriteDataLocked(array.AsSpan(0, length)) : 0;
        if (offset == length)
        {
            ReturnChunk(array);
            return;
        }

        (_pending ??= new()).Enqueue(new PendingChunk(array, offset, length - offset));
        _pendingBytes += length - offset;
    }

    /// <summary>Writes as many DATA frames of <paramref name="data"/> as the windows allow; returns the bytes written
    /// (under the output gate).</summary>
    private int WriteDataLocked(ReadOnlySpan<byte> data)
    {
        var written = 0;
        while (written < data.Length)
        {
            var size = (int)Math.Min(Math.Min(data.Length - written, Output.PeerMaxFrameSize), Math.Min(SendWindow, Output.SendWindow));
            if (size <= 0)
            {
                break;
            }

            data.Slice(written, size).CopyTo(Output.BeginFrame(H2FrameType.Data, 0, Id, size));
            Output.Commit(size);
            SendWindow -= size;
            Output.SendWindow -= size;
            written += size;
        }

        return written;
    }

    /// <summary>Writes <paramref name="payload"/> as one DATA frame straight into the connection's output, when the
    /// response has started, nothing written before it waits, and the windows and frame size allow; false otherwise
    /// (the caller then writes it through the body writer). The caller flushes as usual.</summary>
    public bool TryWriteData(ReadOnlySpan<byte> payload)
    {
        if (_unflushed != 0)
        {
            return false;
        }

        lock (Output.Gate)
        {
            if (!_headersWritten || ResponseClosed || Output.IsClosed || PendingCount > 0 || payload.Length > Output.PeerMaxFrameSize
                || payload.Length > SendWindow || payload.Length > Output.SendWindow)
            {
                return false;
            }

            WriteDataLocked(payload); // one frame: the checks above leave nothing unwritten
            return true;
        }
    }

    /// <summary>Sends what waits for window, now that a window grew (read loop, under the output gate). Returns the
    /// flush to complete (outside the gate) when all of it went.</summary>
    public TaskCompletionSource<FlushResult>? SendPendingLocked()
    {
        while (_pending is not null && _pending.TryPeek(out var item))
        {
            var written = WriteDataLocked(item.Array.AsSpan(item.Offset, item.Length));
            _pendingBytes -= written;
            if (written < item.Length)
            {
                item.Offset += written;
                item.Length -= written;
                return _pendingBytes <= MaxPendingBytes ? TakeWindowWaiter() : null;
            }

            _pending.Dequeue();
            ReturnChunk(item.Array);
        }

        return TakeWindowWaiter();
    }

    private TaskCompletionSource<FlushResult>? TakeWindowWaiter()
    {
        var waiter = _windowWaiter;
        _windowWaiter = null;
        return waiter;
    }

    /// <summary>Ends the response after the application finished: the rest of the body, then trailers or END_STREAM.
    /// With an application error before the response started, the caller gets a 500; after, the stream is reset. A small
    /// end waits for other responses to share its socket write (<see cref="H2ServerOutput.FlushSoon"/>).</summary>
    public Task EndResponseAsync(Exception? error) => EndResponseAsync(error, soon: true);

    private async Task EndResponseAsync(Exception? error, bool soon)
    {
        if (ResponseClosed)
        {
            return;
        }

        if (error is not null)
        {
            if (_started)
            {
                ResetAndAbort(H2ErrorCode.InternalError, "the application failed after the response started");
                return;
            }

            _onStarting = null;
            StatusCode = StatusCodes.Status500InternalServerError;
            ReasonPhrase = null;
            ResponseHeaders.Clear();
            ResponseHeaders.ContentLength = 0;
            Trailers.Clear();
            DropUnflushed();
        }

        await StartResponseAsync().ConfigureAwait(false);

        // Headers, the rest of the body and the end go out in one flush (one socket write) unless the body waits for
        // the caller's window; then the end follows once the window let the body through.
        bool ended;
        lock (Output.Gate)
        {
            if (ResponseClosed || Output.IsClosed)
            {
                DropUnflushed();
                ended = true;
            }
            else if (!_headersWritten && _unflushed == 0 && Trailers.Count == 0)
            {
                WriteHeaderBlockLocked(ResponseHeaders, isTrailers: false, endStream: true);
                _endSent = true;
                ended = true;
            }
            else
            {
                if (!_headersWritten)
                {
                    WriteHeaderBlockLocked(ResponseHeaders, isTrailers: false, endStream: false);
                }

                _ = SendUnflushedLocked(); // what does not fit the windows is pending, waited for below
                ended = PendingCount == 0;
                if (ended)
                {
                    WriteEndLocked();
                }
            }

            if (_endSent)
            {
                _connection.OnResponseEndedLocked(this);
            }
        }

        while (!ended)
        {
            Output.FlushSoon();
            Task<FlushResult> pending;
            lock (Output.Gate)
            {
                if (ResponseClosed || Output.IsClosed)
                {
                    break;
                }

                if (PendingCount == 0)
                {
                    WriteEndLocked();
                    _connection.OnResponseEndedLocked(this);
                    break;
                }

                pending = (_windowWaiter ??= new TaskCompletionSource<FlushResult>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            ended = (await pending.ConfigureAwait(false)).IsCompleted;
        }

        if (soon)
        {
            Output.FlushSoon();
        }
        else
        {
            Output.Flush();
        }

        _connection.OnResponseEnded(this);
    }

    /// <summary>Ends the stream: trailers when there are any, else an empty DATA frame with END_STREAM (under the output
    /// gate).</summary>
    private void WriteEndLocked()
    {
        if (Trailers.Count > 0)
        {
            WriteHeaderBlockLocked(Trailers, isTrailers: true, endStream: true);
        }
        else
        {
            Output.WriteFrame(H2FrameType.Data, H2Frame.EndStream, Id, default);
        }

        _endSent = true;
    }

    /// <summary>Resets the stream with <paramref name="code"/> (unless it already ended) and aborts the request.</summary>
    public void ResetAndAbort(H2ErrorCode code, string reason)
    {
        TaskCompletionSource<FlushResult>? waiter;
        var sent = false;
        lock (Output.Gate)
        {
            if (!ResponseClosed && !Output.IsClosed)
            {
                Output.WriteRstStream(Id, code);
                sent = true;
            }

            waiter = CloseForSendingLocked();
        }

        waiter?.TrySetResult(new FlushResult(isCanceled: false, isCompleted: true));
        if (sent)
        {
            Output.Flush();
        }

        Abort(new IOException($"HTTP/2 stream {Id}: {reason} ({code})"));
        _connection.OnResponseEnded(this);
    }

    /// <summary>The caller reset the stream or the connection is gone: nothing more is sent, the application's reads
    /// fail and <see cref="RequestAborted"/> fires.</summary>
    public void OnAborted(Exception reason)
    {
        TaskCompletionSource<FlushResult>? waiter;
        lock (Output.Gate)
        {
            waiter = CloseForSendingLocked();
        }

        waiter?.TrySetResult(new FlushResult(isCanceled: false, isCompleted: true));
        Abort(reason);
    }

    private void Abort(Exception reason)
    {
        FailRequest(reason);
        if (!_aborted.IsCancellationRequested)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static cts =>
            {
                try
                {
                    cts.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
            }, _aborted, preferLocal: false);
        }
    }

    private TaskCompletionSource<FlushResult>? CloseForSendingLocked()
    {
        _closedForSending = true;
        while (_pending is not null && _pending.TryDequeue(out var item))
        {
            ReturnChunk(item.Array);
        }

        _pendingBytes = 0;
        return TakeWindowWaiter();
    }

    /// <summary>After the application finished: returns the stream's buffers.</summary>
    public void ReleaseBuffers()
    {
        DiscardRequest();
        lock (Output.Gate)
        {
            DropUnflushed();
        }
    }

    /// <summary>Drops the body written since the last flush and returns its chunks (application side).</summary>
    private void DropUnflushed()
    {
        foreach (var (array, _) in _filled)
        {
            ReturnChunk(array);
        }

        _filled.Clear();
        if (_chunk is not null)
        {
            ReturnChunk(_chunk);
            _chunk = null;
        }

        _chunkLength = 0;
        _unflushed = 0;
    }

    private static void CompleteResponseWriter(Exception? exception)
    {
        // As Kestrel: completing the writer does not end the response; the end of the application (or CompleteAsync) does.
    }

    private void CancelPendingFlush()
    {
        TaskCompletionSource<FlushResult>? waiter;
        lock (Output.Gate)
        {
            waiter = TakeWindowWaiter();
        }

        waiter?.TrySetResult(new FlushResult(isCanceled: true, isCompleted: false));
    }

    /// <summary>Encodes <paramref name="headers"/> (with :status unless trailers) and writes them as HEADERS and
    /// CONTINUATION frames, all together (under the output gate).</summary>
    private void WriteHeaderBlockLocked(IHeaderDictionary headers, bool isTrailers, bool endStream)
    {
        // Enumerated as HeaderDictionary, whose enumerator is a struct (through the interface it is boxed, twice per
        // block); middleware that put another dictionary in place gets a copy.
        var own = headers as HeaderDictionary ?? new HeaderDictionary(headers.ToDictionary(StringComparer.OrdinalIgnoreCase));
        var size = 8;
        foreach (var (name, values) in own)
        {
            foreach (var value in values)
            {
                size += HpackEncoder.MaxEncodedLength(name.Length, value?.Length ?? 0);
            }
        }

        var block = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var length = 0;
            if (!isTrailers)
            {
                length += HpackEncoder.WriteHeader(":status", StatusCodeText(StatusCode), block.AsSpan(length));
            }

            foreach (var (name, values) in own)
            {
                if (IsConnectionSpecific(name))
                {
                    continue;
                }

                var lower = name.AsSpan().ContainsAnyInRange('A', 'Z') ? name.ToLowerInvariant() : name;
                foreach (var value in values)
                {
                    if (value is null || !IsLatin1(lower) || !IsLatin1(value))
                    {
                        continue;
                    }

                    length += HpackEncoder.WriteHeader(lower, value, block.AsSpan(length));
                }
            }

            var flags = endStream ? H2Frame.EndStream : (byte)0;
            var first = true;
            var offset = 0;
            do
            {
                var part = Math.Min(length - offset, Output.PeerMaxFrameSize);
                var last = offset + part == length;
                var type = first ? H2FrameType.Headers : H2FrameType.Continuation;
                var frameFlags = (byte)((first ? flags : 0) | (last ? H2Frame.EndHeaders : 0));
                Output.WriteFrame(type, frameFlags, Id, block.AsSpan(offset, part));
                offset += part;
                first = false;
            }
            while (offset < length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(block);
        }

        if (!isTrailers)
        {
            _headersWritten = true;
        }
    }

    private static bool IsConnectionSpecific(string name) =>
        name.Equals("connection", StringComparison.OrdinalIgnoreCase) || name.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
        || name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase) || name.Equals("upgrade", StringComparison.OrdinalIgnoreCase)
        || name.Equals("proxy-connection", StringComparison.OrdinalIgnoreCase);

    private static bool IsLatin1(string text) => !text.AsSpan().ContainsAnyExceptInRange('\0', '\u00FF');

    private static string StatusCodeText(int status) => status switch
    {
        200 => "200",
        404 => "404",
        500 => "500",
        502 => "502",
        _ => status.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Body bytes flushed by the application and waiting for window; the queue owns the array.</summary>
    private sealed class PendingChunk(byte[] array, int offset, int length)
    {
        public byte[] Array { get; } = array;

        public int Offset { get; set; } = offset;

        public int Length { get; set; } = length;
    }

    private sealed class ResponseBodyWriter(H2ServerStream stream) : PipeWriter
    {
        public override bool CanGetUnflushedBytes => true;

        public override long UnflushedBytes => stream.UnflushedResponseBytes;

        public override void Advance(int bytes) => stream.AdvanceResponse(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => stream.GetResponseMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => stream.GetResponseMemory(sizeHint).Span;

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => stream.FlushResponseAsync(cancellationToken);

        public override void CancelPendingFlush() => stream.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => CompleteResponseWriter(exception);
    }
}
