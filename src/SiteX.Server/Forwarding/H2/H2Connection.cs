using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using SiteX.Server.Diagnostics;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding.H2;

/// <summary>What <see cref="H2Connection.TrySendData"/> achieved.</summary>
internal enum SendProgress
{
    Done,
    OutOfWindow,
    BufferFull,
}

/// <summary>Settings of the relay's connections, from <see cref="Configuration.SiteXOptions"/>.</summary>
internal sealed record H2ConnectionOptions(TimeSpan ConnectTimeout, TimeSpan IdleTimeout, TimeSpan KeepAlivePingDelay, TimeSpan KeepAlivePingTimeout)
{
    /// <summary>Whether a stream's waiting request continues on the read loop's thread when its response ends (one
    /// thread-pool hop less per call, at the price of running the end of the call on the read loop). Measured with
    /// unary 100 B calls, 16 concurrent: 43 instead of 47 us of gateway CPU per call (docs/benchmarks.md section 8).</summary>
    public bool InlineCompletion { get; init; } = true;
}

/// <summary>
/// One multiplexed HTTP/2 connection to a next hop (cleartext with prior knowledge, or TLS with ALPN h2): streams
/// are opened by callers (<see cref="StartStream"/>), frames go out through one <see cref="H2FrameWriter"/>, and one
/// read loop (H2Connection.Read.cs) parses every frame the next hop sends and hands each stream's frames to its
/// <see cref="H2Stream"/>.
/// </summary>
/// <remarks>
/// Flow control: this side announces 1 MiB per stream and 16 MiB for the connection, and credits a stream's window
/// as the caller takes its response; sending respects the next hop's windows and blocks a stream that ran out.
/// GOAWAY stops new streams, fails those above the last stream id as retryable, and lets the others finish.
/// A protocol error closes the connection with GOAWAY and fails its streams.
/// </remarks>
internal sealed partial class H2Connection : IDisposable
{
    public const int StreamWindow = 1024 * 1024;
    public const int ConnectionWindow = 16 * 1024 * 1024;

    private readonly Stream _transport;
    private readonly H2FrameWriter _writer;
    private readonly Dictionary<int, H2Stream> _streams = [];
    private readonly List<H2Stream> _windowWaiters = [];
    private readonly H2ConnectionOptions _options;
    private readonly ILogger _logger;
    private readonly string _endpoint;
    private readonly Action<H2Connection> _onClosed;
    private Timer? _timer;
    private int _nextStreamId = 1;
    private int _reserved;
    private int _peerMaxConcurrent = 100;
    private int _peerInitialWindow = H2Frame.DefaultWindowSize;
    private int _peerMaxFrameSize = H2Frame.DefaultMaxFrameSize;
    private long _sendWindow = H2Frame.DefaultWindowSize;
    private bool _closing;
    private bool _closed;
    private bool _tableSizeUpdatePending;
    private long _idleSince = Environment.TickCount64;

    public H2Connection(Stream transport, H2ConnectionOptions options, string endpoint, ILogger logger, Action<H2Connection> onClosed)
    {
        _transport = transport;
        _options = options;
        _endpoint = endpoint;
        _logger = logger;
        _onClosed = onClosed;
        _writer = new H2FrameWriter(transport, ex => Abort(new IOException($"writing to the next hop failed: {ex.Message}", ex), goAway: null));
    }

    /// <summary>Whether new streams may start here (no GOAWAY, not closed).</summary>
    public bool IsOpen
    {
        get
        {
            lock (_writer.Gate)
            {
                return !_closing;
            }
        }
    }

    /// <summary>Streams reserved or open.</summary>
    public int ActiveStreams
    {
        get
        {
            lock (_writer.Gate)
            {
                return _reserved;
            }
        }
    }

    public bool InlineCompletion => _options.InlineCompletion;

    /// <summary>The next hop's SETTINGS_MAX_CONCURRENT_STREAMS (100 until its SETTINGS arrive).</summary>
    public int PeerMaxConcurrentStreams
    {
        get
        {
            lock (_writer.Gate)
            {
                return _peerMaxConcurrent;
            }
        }
    }

    /// <summary>Reserves a stream slot (false when the connection is full or closing).</summary>
    public bool TryReserve()
    {
        lock (_writer.Gate)
        {
            if (_closing || _reserved >= _peerMaxConcurrent)
            {
                return false;
            }

            _reserved++;
            return true;
        }
    }

    /// <summary>Gives back a slot that <see cref="TryReserve"/> took for a stream that never started.</summary>
    public void Unreserve()
    {
        lock (_writer.Gate)
        {
            ReleaseSlotLocked();
        }
    }

    private void ReleaseSlotLocked()
    {
        if (--_reserved == 0)
        {
            _idleSince = Environment.TickCount64;
        }
    }

    /// <summary>Opens <paramref name="stream"/> (on a reserved slot): assigns its id and appends its HEADERS (and
    /// CONTINUATION frames when the block is larger than a frame). Throws when the connection is closing.</summary>
    public void StartStream(H2Stream stream, ReadOnlySpan<byte> headerBlock, bool endStream)
    {
        lock (_writer.Gate)
        {
            if (_closing)
            {
                throw new H2ConnectionClosedException("the connection to the next hop is closing");
            }

            var id = _nextStreamId;
            _nextStreamId += 2;
            if (_nextStreamId < 0)
            {
                _closing = true; // stream ids ran out: new calls go to a new connection
            }

            stream.Id = id;
            stream.SendWindow = _peerInitialWindow;
            _streams[id] = stream;

            // After the next hop changed SETTINGS_HEADER_TABLE_SIZE, the block starts with a dynamic table size update.
            var update = _tableSizeUpdatePending ? HpackEncoder.IntegerLength(0, 5) : 0;
            _tableSizeUpdatePending = false;
            var first = Math.Min(headerBlock.Length, _peerMaxFrameSize - update);
            var flags = (byte)((first == headerBlock.Length ? H2Frame.EndHeaders : 0) | (endStream ? H2Frame.EndStream : 0));
            var payload = _writer.WriteFrameHeader(H2FrameType.Headers, flags, id, update + first);
            if (update > 0)
            {
                HpackEncoder.WriteDynamicTableSizeUpdate(0, payload);
            }

            headerBlock[..first].CopyTo(payload[update..]);
            for (var offset = first; offset < headerBlock.Length;)
            {
                var length = Math.Min(headerBlock.Length - offset, _peerMaxFrameSize);
                offset += length;
                _writer.WriteFrame(H2FrameType.Continuation, offset == headerBlock.Length ? H2Frame.EndHeaders : (byte)0, id, headerBlock.Slice(offset - length, length));
            }
        }
    }

    /// <summary>Appends DATA frames for <paramref name="buffer"/> as far as the windows and the write buffer allow,
    /// slicing off what was sent: <see cref="SendProgress.Done"/> when all of it went (with END_STREAM on the last
    /// frame when <paramref name="endStream"/>), <see cref="SendProgress.OutOfWindow"/> when a window ran out (the
    /// stream is woken by the next WINDOW_UPDATE), <see cref="SendProgress.BufferFull"/> when the connection's write
    /// buffer reached <see cref="H2FrameWriter.HighWater"/> (wait with <see cref="WaitForRoomAsync"/>).</summary>
    public SendProgress TrySendData(H2Stream stream, ref ReadOnlySequence<byte> buffer, bool endStream)
    {
        lock (_writer.Gate)
        {
            if (!_streams.ContainsKey(stream.Id))
            {
                return SendProgress.Done; // reset or closed: the stream's own state tells its sender to stop
            }

            while (true)
            {
                if (buffer.IsEmpty)
                {
                    if (endStream)
                    {
                        _writer.WriteData(stream.Id, ReadOnlySequence<byte>.Empty, endStream: true);
                    }

                    return SendProgress.Done;
                }

                if (_writer.Buffered >= H2FrameWriter.HighWater)
                {
                    return SendProgress.BufferFull;
                }

                var length = (int)Math.Min(Math.Min(buffer.Length, _peerMaxFrameSize), Math.Min(_sendWindow, stream.SendWindow));
                if (length <= 0)
                {
                    stream.WaitingForWindow = true;
                    if (_sendWindow <= 0 && !_windowWaiters.Contains(stream))
                    {
                        _windowWaiters.Add(stream);
                    }

                    return SendProgress.OutOfWindow;
                }

                var last = length == buffer.Length;
                stream.LastActivity = Environment.TickCount64;
                _writer.WriteData(stream.Id, buffer.Slice(0, length), last && endStream);
                _sendWindow -= length;
                stream.SendWindow -= length;
                buffer = buffer.Slice(length);
                if (last)
                {
                    return SendProgress.Done;
                }
            }
        }
    }

    /// <summary>Credits <paramref name="bytes"/> the caller took back to the next hop's window for the stream, in
    /// WINDOW_UPDATEs of at least half the window, and flushes.</summary>
    public void CreditStream(H2Stream stream, int bytes)
    {
        if (bytes > 0 && CreditStreamLocked(stream, bytes))
        {
            _writer.Flush();
        }
    }

    private bool CreditStreamLocked(H2Stream stream, int bytes)
    {
        lock (_writer.Gate)
        {
            stream.ReceiveUnacked += bytes;
            if (stream.ReceiveUnacked < StreamWindow / 2 || stream.EndReceived || !_streams.ContainsKey(stream.Id) || _closed)
            {
                return false;
            }

            WriteWindowUpdateLocked(stream.Id, stream.ReceiveUnacked);
            stream.ReceiveUnacked = 0;
            return true;
        }
    }

    private void WriteWindowUpdateLocked(int streamId, int increment)
    {
        var payload = _writer.WriteFrameHeader(H2FrameType.WindowUpdate, 0, streamId, 4);
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)increment);
    }

    /// <summary>Writes what was appended (see <see cref="H2FrameWriter.FlushAsync"/>).</summary>
    public ValueTask FlushAsync() => _writer.FlushAsync();

    /// <summary>Writes what was appended, a small batch together with what other streams append meanwhile (see
    /// <see cref="H2FrameWriter.FlushSoonAsync"/>).</summary>
    public ValueTask FlushSoonAsync() => _writer.FlushSoonAsync();

    /// <summary>Writes what was appended, without waiting for the write (see <see cref="H2FrameWriter.Flush"/>).</summary>
    public void Flush() => _writer.Flush();

    /// <summary>Completes when the write buffer has room for more DATA (see <see cref="H2FrameWriter.WaitForRoomAsync"/>).</summary>
    public ValueTask WaitForRoomAsync() => _writer.WaitForRoomAsync();

    /// <summary>The most bytes the connection's write buffer held at once.</summary>
    internal int PeakBuffered
    {
        get
        {
            lock (_writer.Gate)
            {
                return _writer.PeakBuffered;
            }
        }
    }

    /// <summary>Forgets <paramref name="stream"/>, resetting it at the next hop with <paramref name="reset"/> when it
    /// did not end cleanly, and frees its slot.</summary>
    public void CloseStream(H2Stream stream, H2ErrorCode? reset)
    {
        var flush = false;
        lock (_writer.Gate)
        {
            if (stream.Id != 0 && _streams.Remove(stream.Id))
            {
                if (reset is { } code && !_closed)
                {
                    WriteRstStreamLocked(stream.Id, code);
                    flush = true;
                }
            }

            _windowWaiters.Remove(stream);
            ReleaseSlotLocked();
            if (_closing && _streams.Count == 0 && !_closed)
            {
                // Draining after GOAWAY: the last stream is done.
                flush = false;
                _ = Task.Run(() => Abort(new H2ConnectionClosedException("the next hop sent GOAWAY"), H2ErrorCode.NoError));
            }
        }

        if (flush)
        {
            _writer.Flush();
        }
    }

    /// <summary>RST_STREAM frames this side sent (for tests: a call that ended cleanly sends none).</summary>
    public int ResetsSent { get; private set; }

    private void WriteRstStreamLocked(int streamId, H2ErrorCode code)
    {
        ResetsSent++;
        var payload = _writer.WriteFrameHeader(H2FrameType.RstStream, 0, streamId, 4);
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)code);
    }

    /// <summary>Closes the connection: GOAWAY with <paramref name="goAway"/> (when given) and the transport, and
    /// fails every open stream with <paramref name="reason"/>.</summary>
    public void Abort(Exception reason, H2ErrorCode? goAway)
    {
        H2Stream[] streams;
        lock (_writer.Gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _closing = true;
            streams = [.. _streams.Values];
            if (goAway is { } code)
            {
                try
                {
                    var payload = _writer.WriteFrameHeader(H2FrameType.GoAway, 0, 0, 8);
                    BinaryPrimitives.WriteUInt32BigEndian(payload, 0);
                    BinaryPrimitives.WriteUInt32BigEndian(payload[4..], (uint)code);
                }
                catch (IOException)
                {
                    // The transport already failed.
                }
            }
        }

        if (goAway is not null && goAway != H2ErrorCode.NoError)
        {
            H2RelayLog.ConnectionFailed(_logger, _endpoint, reason.Message);
        }

        _timer?.Dispose();
        _peerSettings.TrySetException(reason);
        _ = _peerSettings.Task.Exception; // observed: StartAsync may have stopped waiting
        _onClosed(this);
        foreach (var stream in streams)
        {
            stream.Fail(new IOException($"the connection to the next hop was closed: {reason.Message}", reason), ForwarderError.Request);
        }

        _ = CloseTransportAsync();
    }

    public void Dispose() => Abort(new ObjectDisposedException(nameof(H2Connection)), H2ErrorCode.NoError);

    private async Task CloseTransportAsync()
    {
        try
        {
            await _writer.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writer.Fail();
            await _transport.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>The connection closed (GOAWAY, failure, idle) before a stream could start on it.</summary>
internal sealed class H2ConnectionClosedException(string message) : IOException(message);

/// <summary>The next hop reset a stream (RST_STREAM).</summary>
internal sealed class H2StreamResetException(H2ErrorCode code) : IOException($"the next hop reset the stream ({code})")
{
    public H2ErrorCode Code { get; } = code;
}

/// <summary>The next hop broke the HTTP/2 protocol; the connection is closed with GOAWAY <see cref="Code"/>.</summary>
internal sealed class H2ProtocolException(H2ErrorCode code, string message) : IOException(message)
{
    public H2ErrorCode Code { get; } = code;
}
