using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using SiteX.Server.Diagnostics;
using SiteX.Server.Forwarding.H2;

namespace SiteX.Server.Serving;

/// <summary>What an <see cref="H2ServerConnection"/> advertises and enforces.</summary>
internal sealed record H2ServerLimits(int MaxConcurrentStreams, int StreamWindow, int ConnectionWindow, int MaxHeaderListSize, TimeSpan IdleTimeout)
{
    /// <summary>A PING goes to a caller that sent nothing for this long (infinite or zero: never; Kestrel's
    /// <c>KeepAlivePingDelay</c>).</summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>A caller that sends nothing for this long after a keepalive PING is cut off (Kestrel's
    /// <c>KeepAlivePingTimeout</c>).</summary>
    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Whether keepalive pings are on.</summary>
    public bool KeepAlivePings => KeepAlivePingDelay > TimeSpan.Zero && KeepAlivePingDelay != Timeout.InfiniteTimeSpan;

    /// <summary>The largest header block (HEADERS and CONTINUATION payloads together) taken before decoding.</summary>
    public int MaxHeaderBlockSize => MaxHeaderListSize;
}

/// <summary>
/// The server half of one HTTP/2 connection on an inter-site gRPC port (ADR 0011): one read loop parses the caller's
/// frames straight from the transport's pipe, each request runs through ASP.NET Core's pipeline on
/// <see cref="H2ServerStream"/>'s features, and every response is written as frames straight into the transport's
/// pipe (<see cref="H2ServerOutput"/>). No per-stream pipes on the way out, no frame-writer thread.
/// </summary>
/// <remarks>
/// Protocol errors of the caller end the connection with GOAWAY and a message naming the problem (never anything
/// internal); malformed requests are reset with PROTOCOL_ERROR; requests above <see cref="H2ServerLimits.MaxConcurrentStreams"/>
/// (counting requests whose application has not finished, reset or not) are refused with REFUSED_STREAM.
/// </remarks>
internal sealed class H2ServerConnection : IHttpConnectionFeature
{
    private const int PrefaceLength = 24;
    private const string CallerSent = "the caller sent";

    /// <summary>How long a new connection may take to send the client preface and its SETTINGS.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly ConnectionContext _connection;
    private readonly IRequestRunner _runner;
    private readonly H2ServerLimits _limits;
    private readonly ILogger _logger;
    private readonly FeatureCollection _features;
    private readonly PipeOptions _requestPipeOptions;
    private readonly HpackDecoder _decoder;
    private readonly Dictionary<int, H2ServerStream> _streams = [];
    private readonly List<H2ServerStream> _waitingForWindow = [];
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _scratch = new byte[H2Frame.DefaultMaxFrameSize];
    private readonly IgnoredHeaders _ignoredHeaders = new();
    private readonly int _streamCreditThreshold;
    private readonly int _connectionCreditThreshold;
    private readonly H2ServerHeaderSets _headerSets = new();

    /// <summary>Header names and values of recent requests, decoded once (read loop only).</summary>
    internal H2StringCache HeaderStrings { get; } = new();

    private int _lastStreamId;
    private int _activeRequests;
    private long _receiveWindow;
    private int _connectionCredit;
    private int _peerInitialWindow = H2Frame.DefaultWindowSize;
    private bool _settingsReceived;
    private bool _goingAway;
    private bool _readLoopDone;
    private long _lastActive = Environment.TickCount64;
    private readonly List<IRequestDataSink> _sinksToFlush = [];
    private long _lastReceived = Environment.TickCount64;
    private long _pingSentAt; // 0: no keepalive PING outstanding

    // The header block being received (HEADERS without END_HEADERS, then CONTINUATION frames).
    private byte[]? _headerBlock;
    private int _headerBlockLength;
    private int _headerStreamId;
    private bool _headerEndStream;

    public H2ServerConnection(ConnectionContext connection, IRequestRunner runner, H2ServerLimits limits, ILogger logger)
    {
        _connection = connection;
        _runner = runner;
        _limits = limits;
        _logger = logger;
        // Every request body pipe of the connection: no pause threshold (flow control bounds what it holds), the
        // application's reads completed on the thread pool, the read loop's writes inline.
        var pool = connection.Features.Get<IMemoryPoolFeature>()?.MemoryPool ?? MemoryPool<byte>.Shared;
        _requestPipeOptions = new PipeOptions(pool, PipeScheduler.ThreadPool, PipeScheduler.Inline, pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: 4096, useSynchronizationContext: false);
        _decoder = new HpackDecoder(4096, limits.MaxHeaderListSize);
        _receiveWindow = limits.ConnectionWindow;
        _streamCreditThreshold = Math.Max(limits.StreamWindow / 8, 1);
        _connectionCreditThreshold = Math.Max(limits.ConnectionWindow / 8, 1);
        _features = new FeatureCollection(connection.Features);
        _features.Set<IHttpConnectionFeature>(this);
        Output = new H2ServerOutput(connection.Transport.Output);
        var local = connection.LocalEndPoint as IPEndPoint;
        var remote = connection.RemoteEndPoint as IPEndPoint;
        (LocalIpAddress, LocalPort, RemoteIpAddress, RemotePort) = (local?.Address, local?.Port ?? 0, remote?.Address, remote?.Port ?? 0);
    }

    public H2ServerOutput Output { get; }

    // IHttpConnectionFeature
    public string ConnectionId
    {
        get => _connection.ConnectionId;
        set => _connection.ConnectionId = value;
    }

    public IPAddress? RemoteIpAddress { get; set; }

    public IPAddress? LocalIpAddress { get; set; }

    public int RemotePort { get; set; }

    public int LocalPort { get; set; }

    /// <summary>Serves the connection until the caller closes it, a protocol error ends it, or the server stops.</summary>
    public async Task ProcessAsync()
    {
        using var shutdown = _connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested.Register(static s => ((H2ServerConnection)s!).GoAway(), this);

        // A connection with no request for IdleTimeout is closed with GOAWAY (Kestrel's keep-alive timeout); one that
        // sends nothing gets keepalive PINGs (Kestrel's KeepAlivePingDelay and KeepAlivePingTimeout).
        var check = CheckPeriod(_limits);
        using var idle = new Timer(static s => ((H2ServerConnection)s!).OnTimer(), this, check, check);
        WriteSettings();
        Output.Flush();
        var input = _connection.Transport.Input;
        Exception? failure = null;
        using var handshake = new CancellationTokenSource(HandshakeTimeout);
        try
        {
            var prefaceRead = false;
            while (true)
            {
                // Until the caller's preface and SETTINGS arrived, a silent connection is closed after HandshakeTimeout.
                var result = await input.ReadAsync(_settingsReceived ? CancellationToken.None : handshake.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!prefaceRead)
                {
                    if (buffer.Length < PrefaceLength)
                    {
                        if (result.IsCompleted)
                        {
                            break;
                        }

                        input.AdvanceTo(buffer.Start, buffer.End);
                        continue;
                    }

                    CheckPreface(buffer.Slice(0, PrefaceLength));

                    buffer = buffer.Slice(PrefaceLength);
                    prefaceRead = true;
                }

                try
                {
                    while (TryReadFrame(ref buffer))
                    {
                    }
                }
                finally
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    FlushSinks(); // what went straight to next hops, even when a frame failed the connection
                }

                Output.Flush();
                var now = Environment.TickCount64;
                Volatile.Write(ref _lastActive, now);
                Volatile.Write(ref _lastReceived, now);
                Volatile.Write(ref _pingSentAt, 0); // whatever arrived shows the caller is there
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (H2ProtocolException ex)
        {
            failure = ex;
            SendGoAway(ex.Code, ex.Message);
            H2ServerLog.ProtocolError(_logger, ConnectionId, ex.Code.ToString(), ex.Message);
        }
        catch (HpackException ex)
        {
            failure = ex;
            SendGoAway(H2ErrorCode.CompressionError, $"the header block could not be decoded: {ex.Message}");
            H2ServerLog.ProtocolError(_logger, ConnectionId, nameof(H2ErrorCode.CompressionError), ex.Message);
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException)
        {
            failure = ex;
        }
        catch (Exception ex)
        {
            // A fault of this server, not of the caller: the caller learns only that the connection failed.
            failure = ex;
            H2ServerLog.ConnectionFailed(_logger, ConnectionId, ex);
            SendGoAway(H2ErrorCode.InternalError, "the server failed; retry on a new connection");
        }
        finally
        {
            await input.CompleteAsync().ConfigureAwait(false);
        }

        // The caller is gone or misbehaved: every request still running is aborted, and the connection ends when
        // their applications have finished (they may still touch the output until then).
        H2ServerStream[] streams;
        lock (Output.Gate)
        {
            _readLoopDone = true;
            streams = [.. _streams.Values];
            _streams.Clear();
            _waitingForWindow.Clear();
        }

        var reason = new IOException("the HTTP/2 connection closed", failure);
        foreach (var stream in streams)
        {
            stream.OnAborted(reason);
        }

        if (Volatile.Read(ref _activeRequests) > 0)
        {
            await _idle.Task.ConfigureAwait(false);
        }

        Output.Close();
        await _connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
    }

    private static void CheckPreface(in ReadOnlySequence<byte> start)
    {
        Span<byte> preface = stackalloc byte[PrefaceLength];
        start.CopyTo(preface);
        if (!preface.SequenceEqual(H2Frame.Preface))
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, "the connection did not start with the HTTP/2 client preface");
        }
    }

    /// <summary>Runs the application on <paramref name="stream"/> and ends its response.</summary>
    public async Task RunAsync(H2ServerStream stream)
    {
        try
        {
            await _runner.RunAsync(stream).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            H2ServerLog.RequestFailed(_logger, ConnectionId, stream.Id, ex);
            stream.ResetAndAbort(H2ErrorCode.InternalError, "the request failed");
        }
        finally
        {
            stream.ReleaseBuffers();
            OnResponseEnded(stream);
            stream.Dispose();
            _headerSets.Return(stream.HeaderSet); // the application and the context are done with the request
            Volatile.Write(ref _lastActive, Environment.TickCount64);
            if (Interlocked.Decrement(ref _activeRequests) == 0 && (Volatile.Read(ref _readLoopDone) || Volatile.Read(ref _goingAway)))
            {
                _idle.TrySetResult();
                if (Volatile.Read(ref _goingAway))
                {
                    _connection.Transport.Input.CancelPendingRead();
                }
            }
        }
    }

    /// <summary>Has <paramref name="sink"/> write what it took once the frames read so far are handled (read loop).</summary>
    public void FlushAtEndOfBatch(IRequestDataSink sink)
    {
        if (!_sinksToFlush.Contains(sink))
        {
            _sinksToFlush.Add(sink);
        }
    }

    private void FlushSinks()
    {
        foreach (var sink in _sinksToFlush)
        {
            sink.Flush();
        }

        _sinksToFlush.Clear();
    }

    /// <summary>The application consumed <paramref name="length"/> request bytes: credits them back to the caller's
    /// windows once enough have gathered.</summary>
    public void OnRequestConsumed(H2ServerStream stream, int length)
    {
        if (CreditConsumed(stream, length))
        {
            Output.FlushSoon();
        }
    }

    /// <summary><see cref="OnRequestConsumed"/> without the flush, for the read loop, which flushes at the end of its
    /// batch: true when a WINDOW_UPDATE was written.</summary>
    public bool CreditConsumed(H2ServerStream stream, int length)
    {
        var connectionCredit = TakeCredit(ref _connectionCredit, length, _connectionCreditThreshold);
        var streamCredit = stream.RequestClosed ? 0 : stream.TakeCredit(length, _streamCreditThreshold);
        if (connectionCredit == 0 && streamCredit == 0)
        {
            return false;
        }

        lock (Output.Gate)
        {
            if (streamCredit > 0 && !stream.ResponseClosed)
            {
                stream.GrantReceiveWindow(streamCredit);
                Output.WriteWindowUpdate(stream.Id, streamCredit);
            }

            if (connectionCredit > 0)
            {
                GrantConnectionLocked(connectionCredit);
            }
        }

        return true;
    }

    /// <summary>Lists <paramref name="stream"/> as waiting for window (under the output gate).</summary>
    public void WaitForWindowLocked(H2ServerStream stream)
    {
        if (!_waitingForWindow.Contains(stream))
        {
            _waitingForWindow.Add(stream);
        }
    }

    /// <summary>The response ended or the stream was reset: the stream leaves the table, and a caller still sending its
    /// request is told to stop (RST_STREAM NO_ERROR, RFC 9113 section 8.1).</summary>
    public void OnResponseEnded(H2ServerStream stream)
    {
        if (stream.LeftConnection)
        {
            return; // set once, under the gate, when it left the table: nothing more to do, and no lock to take
        }

        bool flush;
        lock (Output.Gate)
        {
            flush = OnResponseEndedLocked(stream);
        }

        if (flush)
        {
            Output.Flush();
        }
    }

    /// <summary><see cref="OnResponseEnded"/> under the output gate, in the same hold as the end of the response was
    /// written: from then on, the caller closing the connection does not abort the request (an application that
    /// checks <c>RequestAborted</c> after completing its response sees it delivered). True when a frame waits for a
    /// flush.</summary>
    public bool OnResponseEndedLocked(H2ServerStream stream)
    {
        if (!_streams.Remove(stream.Id))
        {
            return false;
        }

        stream.LeftConnection = true;
        _waitingForWindow.Remove(stream);
        if (!stream.RequestClosed && !Output.IsClosed)
        {
            Output.WriteRstStream(stream.Id, H2ErrorCode.NoError);
            return true;
        }

        return false;
    }

    /// <summary>Adds <paramref name="length"/> to <paramref name="credit"/>; once it reached <paramref name="threshold"/>,
    /// takes all of it (to send as WINDOW_UPDATE), else returns 0.</summary>
    internal static int TakeCredit(ref int credit, int length, int threshold)
    {
        var total = Interlocked.Add(ref credit, length);
        return total >= threshold ? Interlocked.Exchange(ref credit, 0) : 0;
    }

    private static TimeSpan CheckPeriod(H2ServerLimits limits) => H2TimerPeriod.QuarterOfShortest(
        fallback: TimeSpan.FromMinutes(4), min: TimeSpan.FromMilliseconds(100), max: TimeSpan.FromMinutes(1),
        limits.IdleTimeout,
        limits.KeepAlivePings ? limits.KeepAlivePingDelay : Timeout.InfiniteTimeSpan,
        limits.KeepAlivePings ? limits.KeepAlivePingTimeout : Timeout.InfiniteTimeSpan);

    private void OnTimer()
    {
        CheckIdle();
        CheckKeepAlive();
    }

    /// <summary>Sends a PING to a caller that sent nothing for <see cref="H2ServerLimits.KeepAlivePingDelay"/>, and cuts
    /// off one that still sent nothing <see cref="H2ServerLimits.KeepAlivePingTimeout"/> later: its requests are
    /// aborted, as a lost connection's are.</summary>
    private void CheckKeepAlive()
    {
        if (!_limits.KeepAlivePings)
        {
            return;
        }

        var now = Environment.TickCount64;
        var sentAt = Volatile.Read(ref _pingSentAt);
        if (sentAt != 0)
        {
            if (now - sentAt >= _limits.KeepAlivePingTimeout.TotalMilliseconds)
            {
                H2ServerLog.KeepAliveTimeout(_logger, ConnectionId, _limits.KeepAlivePingTimeout);
                _connection.Abort(new ConnectionAbortedException($"the caller did not answer a keepalive PING within {_limits.KeepAlivePingTimeout}"));
            }

            return;
        }

        if (now - Volatile.Read(ref _lastReceived) < _limits.KeepAlivePingDelay.TotalMilliseconds)
        {
            return;
        }

        lock (Output.Gate)
        {
            if (Output.IsClosed)
            {
                return;
            }

            Span<byte> payload = stackalloc byte[8];
            BinaryPrimitives.WriteInt64BigEndian(payload, now);
            Output.WriteFrame(H2FrameType.Ping, 0, 0, payload);
        }

        Volatile.Write(ref _pingSentAt, now);
        Output.Flush();
    }

    private void CheckIdle()
    {
        if (Volatile.Read(ref _activeRequests) == 0 && Environment.TickCount64 - Volatile.Read(ref _lastActive) >= _limits.IdleTimeout.TotalMilliseconds)
        {
            GoAway();
        }
    }

    private void GoAway()
    {
        lock (Output.Gate)
        {
            if (_goingAway)
            {
                return;
            }

            _goingAway = true;
            WriteGoAwayLocked(H2ErrorCode.NoError, "");
        }

        Output.Flush();
        if (Volatile.Read(ref _activeRequests) == 0)
        {
            _connection.Transport.Input.CancelPendingRead();
        }
    }

    private void SendGoAway(H2ErrorCode code, string message)
    {
        lock (Output.Gate)
        {
            _goingAway = true;
            WriteGoAwayLocked(code, message);
        }

        Output.Flush();
    }

    private void WriteGoAwayLocked(H2ErrorCode code, string message)
    {
        var debug = System.Text.Encoding.UTF8.GetBytes(message.Length > 512 ? message[..512] : message);
        var payload = new byte[8 + debug.Length];
        BinaryPrimitives.WriteInt32BigEndian(payload, _lastStreamId);
        BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(4), (uint)code);
        debug.CopyTo(payload.AsSpan(8));
        Output.WriteFrame(H2FrameType.GoAway, 0, 0, payload);
    }

    private void WriteSettings()
    {
        Span<byte> settings = stackalloc byte[18];
        H2Frame.WriteSetting(settings, H2Frame.SettingsMaxConcurrentStreams, _limits.MaxConcurrentStreams);
        H2Frame.WriteSetting(settings[6..], H2Frame.SettingsInitialWindowSize, _limits.StreamWindow);
        H2Frame.WriteSetting(settings[12..], H2Frame.SettingsMaxHeaderListSize, _limits.MaxHeaderListSize);
        lock (Output.Gate)
        {
            Output.WriteFrame(H2FrameType.Settings, 0, 0, settings);
            if (_limits.ConnectionWindow > H2Frame.DefaultWindowSize)
            {
                Output.WriteWindowUpdate(0, _limits.ConnectionWindow - H2Frame.DefaultWindowSize);
            }
        }
    }

    /// <summary>Gives the caller <paramref name="credit"/> more bytes of connection window (under the output gate).</summary>
    private void GrantConnectionLocked(int credit)
    {
        Interlocked.Add(ref _receiveWindow, credit);
        Output.WriteWindowUpdate(0, credit);
    }

    /// <summary>Reads one whole frame from <paramref name="buffer"/> and handles it; false when the buffer holds no
    /// whole frame.</summary>
    private bool TryReadFrame(ref ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < H2Frame.HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[H2Frame.HeaderLength];
        buffer.Slice(0, H2Frame.HeaderLength).CopyTo(header);
        var (length, type, flags, streamId) = H2Frame.ReadHeader(header);
        if (length > H2Frame.DefaultMaxFrameSize)
        {
            throw new H2ProtocolException(H2ErrorCode.FrameSizeError, $"a {type} frame of {length} bytes is larger than SETTINGS_MAX_FRAME_SIZE ({H2Frame.DefaultMaxFrameSize})");
        }

        if (buffer.Length < H2Frame.HeaderLength + length)
        {
            return false;
        }

        var payload = buffer.Slice(H2Frame.HeaderLength, length);
        buffer = buffer.Slice(payload.End);
        OnFrame(type, flags, streamId, payload);
        return true;
    }

    private void OnFrame(H2FrameType type, byte flags, int streamId, in ReadOnlySequence<byte> payload)
    {
        if (!_settingsReceived && (type != H2FrameType.Settings || (flags & H2Frame.Ack) != 0))
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"the first frame after the preface was {type}, not SETTINGS");
        }

        if (_headerBlock is not null && (type != H2FrameType.Continuation || streamId != _headerStreamId))
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"{type} on stream {streamId} in the middle of the header block of stream {_headerStreamId}");
        }

        if (type == H2FrameType.Data)
        {
            OnData(flags, streamId, payload);
            return;
        }

        var span = payload.IsSingleSegment ? payload.FirstSpan : Contiguous(payload);
        switch (type)
        {
            case H2FrameType.Headers:
                OnHeaders(flags, streamId, span);
                break;
            case H2FrameType.Continuation:
                OnContinuation(flags, streamId, span);
                break;
            case H2FrameType.Priority:
                RequireStreamId(type, streamId);
                RequireLength(type, span, 5);
                break;
            case H2FrameType.RstStream:
                OnReset(streamId, span);
                break;
            case H2FrameType.Settings:
                OnSettings(flags, streamId, span);
                break;
            case H2FrameType.PushPromise:
                throw new H2ProtocolException(H2ErrorCode.ProtocolError, "a client must not send PUSH_PROMISE");
            case H2FrameType.Ping:
                OnPing(flags, streamId, span);
                break;
            case H2FrameType.GoAway:
                if (streamId != 0)
                {
                    throw new H2ProtocolException(H2ErrorCode.ProtocolError, "GOAWAY on a stream other than 0");
                }

                break;
            case H2FrameType.WindowUpdate:
                OnWindowUpdate(streamId, span);
                break;
            default:
                break; // unknown frame types are ignored (RFC 9113 section 4.1)
        }
    }

    private ReadOnlySpan<byte> Contiguous(in ReadOnlySequence<byte> payload)
    {
        payload.CopyTo(_scratch);
        return _scratch.AsSpan(0, (int)payload.Length);
    }

    private void OnData(byte flags, int streamId, ReadOnlySequence<byte> payload)
    {
        RequireStreamId(H2FrameType.Data, streamId);
        if (streamId > _lastStreamId)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"DATA on stream {streamId}, which was never opened");
        }

        var flowLength = (int)payload.Length;
        if (Interlocked.Add(ref _receiveWindow, -flowLength) < 0)
        {
            throw new H2ProtocolException(H2ErrorCode.FlowControlError, "DATA beyond the connection's flow-control window");
        }

        if ((flags & H2Frame.Padded) != 0)
        {
            if (payload.Length == 0)
            {
                throw new H2ProtocolException(H2ErrorCode.FrameSizeError, "a padded DATA frame without its pad length");
            }

            var padLength = payload.FirstSpan[0];
            if (padLength >= payload.Length)
            {
                throw new H2ProtocolException(H2ErrorCode.ProtocolError, "DATA padding longer than the frame");
            }

            payload = payload.Slice(1, payload.Length - 1 - padLength);
        }

        var endStream = (flags & H2Frame.EndStream) != 0;
        var stream = Find(streamId);
        if (stream is null || stream.RequestClosed)
        {
            // A stream this side already ended or reset: the bytes are dropped and credited back.
            CreditConnection(flowLength);
            if (stream is not null)
            {
                ResetStream(stream, H2ErrorCode.StreamClosed, "DATA after the end of the request");
            }

            return;
        }

        if (stream.TakeReceiveWindow(flowLength) < 0)
        {
            CreditConnection(flowLength);
            ResetStream(stream, H2ErrorCode.FlowControlError, "DATA beyond the stream's flow-control window");
            return;
        }

        var taken = stream.OnRequestData(payload, endStream);
        var padding = flowLength - (int)payload.Length;
        if (!taken)
        {
            CreditConnection(flowLength);
        }
        else if (padding > 0)
        {
            CreditConsumed(stream, padding);
        }
    }

    private void CreditConnection(int length)
    {
        var credit = TakeCredit(ref _connectionCredit, length, _connectionCreditThreshold);
        if (credit > 0)
        {
            lock (Output.Gate)
            {
                GrantConnectionLocked(credit);
            }
        }
    }

    private void OnHeaders(byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        RequireStreamId(H2FrameType.Headers, streamId);
        if ((streamId & 1) == 0)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"HEADERS on stream {streamId}: client streams have odd ids");
        }

        payload = H2Frame.HeaderBlockFragment(flags, payload, CallerSent);

        var endStream = (flags & H2Frame.EndStream) != 0;
        if ((flags & H2Frame.EndHeaders) != 0)
        {
            OnHeaderBlock(streamId, payload, endStream);
            return;
        }

        _headerBlock = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length * 2, 4096));
        payload.CopyTo(_headerBlock);
        (_headerBlockLength, _headerStreamId, _headerEndStream) = (payload.Length, streamId, endStream);
        CheckHeaderBlockSize(_headerBlockLength);
    }

    private void OnContinuation(byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        if (_headerBlock is null)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"CONTINUATION on stream {streamId} without a header block to continue");
        }

        CheckHeaderBlockSize(_headerBlockLength + payload.Length);
        if (_headerBlock.Length < _headerBlockLength + payload.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent((_headerBlockLength + payload.Length) * 2);
            _headerBlock.AsSpan(0, _headerBlockLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_headerBlock);
            _headerBlock = larger;
        }

        payload.CopyTo(_headerBlock.AsSpan(_headerBlockLength));
        _headerBlockLength += payload.Length;
        if ((flags & H2Frame.EndHeaders) == 0)
        {
            return;
        }

        var block = _headerBlock;
        _headerBlock = null;
        try
        {
            OnHeaderBlock(_headerStreamId, block.AsSpan(0, _headerBlockLength), _headerEndStream);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(block);
        }
    }

    private void CheckHeaderBlockSize(int size)
    {
        if (size > _limits.MaxHeaderBlockSize)
        {
            throw new H2ProtocolException(H2ErrorCode.EnhanceYourCalm, $"a header block of more than {_limits.MaxHeaderBlockSize} bytes");
        }
    }

    private void OnHeaderBlock(int streamId, ReadOnlySpan<byte> block, bool endStream)
    {
        if (streamId <= _lastStreamId)
        {
            // Trailers of a request still being received end it. A stream this side already ended was reset (or its
            // request had ended): frames in flight on it are ignored (RFC 9113 section 5.1), after decoding the block,
            // which the HPACK state needs.
            var existing = Find(streamId);
            _decoder.Decode(block, _ignoredHeaders);
            if (existing is null)
            {
                return;
            }

            if (existing.RequestClosed)
            {
                ResetStream(existing, H2ErrorCode.StreamClosed, "HEADERS after the end of the request");
                return;
            }

            if (!endStream)
            {
                ResetStream(existing, H2ErrorCode.ProtocolError, "request trailers without END_STREAM");
                return;
            }

            existing.OnRequestData(ReadOnlySequence<byte>.Empty, endStream: true);
            return;
        }

        _lastStreamId = streamId;
        var stream = new H2ServerStream(this, streamId, _features, _requestPipeOptions, _headerSets.Rent(), endStream);
        _decoder.Decode(block, stream);
        bool refused;
        lock (Output.Gate)
        {
            refused = _goingAway || Volatile.Read(ref _activeRequests) >= _limits.MaxConcurrentStreams;
            if (refused)
            {
                Output.WriteRstStream(streamId, H2ErrorCode.RefusedStream);
            }
            else if (!stream.CompleteHeaders(endStream))
            {
                Output.WriteRstStream(streamId, H2ErrorCode.ProtocolError);
                refused = true;
            }
            else
            {
                stream.SendWindow = _peerInitialWindow;
                stream.GrantReceiveWindow(_limits.StreamWindow);
                _streams.Add(streamId, stream);
                Interlocked.Increment(ref _activeRequests);
            }
        }

        if (refused)
        {
            if (stream.Malformed is { } why)
            {
                H2ServerLog.MalformedRequest(_logger, ConnectionId, streamId, why);
            }

            return;
        }

        stream.Start();
    }

    private void OnReset(int streamId, ReadOnlySpan<byte> payload)
    {
        RequireStreamId(H2FrameType.RstStream, streamId);
        RequireLength(H2FrameType.RstStream, payload, 4);
        if (streamId > _lastStreamId)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"RST_STREAM on stream {streamId}, which was never opened");
        }

        H2ServerStream? stream;
        lock (Output.Gate)
        {
            if (_streams.Remove(streamId, out stream))
            {
                _waitingForWindow.Remove(stream);
            }
        }

        var code = (H2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload);
        stream?.OnAborted(new IOException($"the caller reset HTTP/2 stream {streamId} ({code})"));
    }

    private void ResetStream(H2ServerStream stream, H2ErrorCode code, string reason)
    {
        H2ServerLog.StreamError(_logger, ConnectionId, stream.Id, code.ToString(), reason);
        stream.ResetAndAbort(code, reason);
    }

    private void OnSettings(byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        if (streamId != 0)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, "SETTINGS on a stream other than 0");
        }

        if ((flags & H2Frame.Ack) != 0)
        {
            if (payload.Length != 0)
            {
                throw new H2ProtocolException(H2ErrorCode.FrameSizeError, "a SETTINGS acknowledgement with a payload");
            }

            return;
        }

        if (payload.Length % 6 != 0)
        {
            throw new H2ProtocolException(H2ErrorCode.FrameSizeError, $"a SETTINGS frame of {payload.Length} bytes (not a multiple of 6)");
        }

        _settingsReceived = true;
        List<TaskCompletionSource<FlushResult>>? flushed = null;
        lock (Output.Gate)
        {
            RequireReadingAnswersLocked("SETTINGS");
            for (var i = 0; i < payload.Length; i += 6)
            {
                var id = BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
                var value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
                switch (id)
                {
                    case H2Frame.SettingsEnablePush when value > 1:
                        throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"SETTINGS_ENABLE_PUSH of {value}");
                    case H2Frame.SettingsInitialWindowSize when value > H2Frame.MaxWindowSize:
                        throw new H2ProtocolException(H2ErrorCode.FlowControlError, $"SETTINGS_INITIAL_WINDOW_SIZE of {value}");
                    case H2Frame.SettingsInitialWindowSize:
                        var delta = (long)value - _peerInitialWindow;
                        _peerInitialWindow = (int)value;
                        foreach (var stream in _streams.Values)
                        {
                            stream.SendWindow += delta;
                        }

                        if (delta > 0)
                        {
                            flushed = SendPendingLocked();
                        }

                        break;
                    case H2Frame.SettingsMaxFrameSize when value is < H2Frame.DefaultMaxFrameSize or > 16_777_215:
                        throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"SETTINGS_MAX_FRAME_SIZE of {value}");
                    case H2Frame.SettingsMaxFrameSize:
                        Output.PeerMaxFrameSize = (int)value;
                        break;
                    default:
                        break; // header table size (this side never indexes), push, concurrency, list size, unknown
                }
            }

            Output.WriteAnswer(H2FrameType.Settings, 0, default);
        }

        Complete(flushed);
    }

    private void OnPing(byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        if (streamId != 0)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, "PING on a stream other than 0");
        }

        RequireLength(H2FrameType.Ping, payload, 8);
        if ((flags & H2Frame.Ack) == 0)
        {
            lock (Output.Gate)
            {
                RequireReadingAnswersLocked("PING");
                Output.WriteAnswer(H2FrameType.Ping, 0, payload);
            }
        }
    }

    /// <summary>A caller that keeps sending frames this side must answer (PING, SETTINGS) while it does not read the
    /// answers would grow the output without bound: once more than <see cref="MaxUnreadAnswers"/> bytes of answers wait
    /// for the socket, the connection ends with ENHANCE_YOUR_CALM (under the output gate). Responses waiting for a slow
    /// reader do not count: their windows bound them.</summary>
    private void RequireReadingAnswersLocked(string frame)
    {
        if (Output.UnreadAnswers > MaxUnreadAnswers)
        {
            throw new H2ProtocolException(H2ErrorCode.EnhanceYourCalm, $"{frame} frames arrive faster than the connection reads their answers ({Output.UnreadAnswers} bytes of answers unread)");
        }
    }

    /// <summary>Bytes of unread answers (PING and SETTINGS acknowledgements, 17 and 9 bytes each) above which a frame
    /// that needs an answer ends the connection.</summary>
    internal const int MaxUnreadAnswers = 4 * 1024 * 1024;

    private void OnWindowUpdate(int streamId, ReadOnlySpan<byte> payload)
    {
        RequireLength(H2FrameType.WindowUpdate, payload, 4);
        var increment = (int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF);
        if (streamId > _lastStreamId)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"WINDOW_UPDATE on stream {streamId}, which was never opened");
        }

        if (streamId == 0)
        {
            if (increment == 0)
            {
                throw new H2ProtocolException(H2ErrorCode.ProtocolError, "a connection WINDOW_UPDATE of 0");
            }

            List<TaskCompletionSource<FlushResult>>? flushed;
            lock (Output.Gate)
            {
                if (Output.SendWindow + increment > H2Frame.MaxWindowSize)
                {
                    throw new H2ProtocolException(H2ErrorCode.FlowControlError, "the connection's send window above 2^31-1");
                }

                Output.SendWindow += increment;
                flushed = SendPendingLocked();
            }

            Complete(flushed);
            return;
        }

        var stream = Find(streamId);
        if (stream is null)
        {
            return; // a closed stream
        }

        if (increment == 0)
        {
            ResetStream(stream, H2ErrorCode.ProtocolError, "a stream WINDOW_UPDATE of 0");
            return;
        }

        TaskCompletionSource<FlushResult>? done = null;
        var overflow = false;
        lock (Output.Gate)
        {
            if (stream.SendWindow + increment > H2Frame.MaxWindowSize)
            {
                overflow = true;
            }
            else
            {
                stream.SendWindow += increment;
                if (stream.WaitingForWindow)
                {
                    done = stream.SendPendingLocked();
                    if (!stream.WaitingForWindow)
                    {
                        _waitingForWindow.Remove(stream);
                    }
                }
            }
        }

        if (overflow)
        {
            ResetStream(stream, H2ErrorCode.FlowControlError, "the stream's send window above 2^31-1");
        }

        done?.TrySetResult(default);
    }

    private List<TaskCompletionSource<FlushResult>>? SendPendingLocked()
    {
        List<TaskCompletionSource<FlushResult>>? done = null;
        for (var i = 0; i < _waitingForWindow.Count && Output.SendWindow > 0;)
        {
            var stream = _waitingForWindow[i];
            if (stream.SendPendingLocked() is { } waiter)
            {
                (done ??= []).Add(waiter);
            }

            if (stream.WaitingForWindow)
            {
                i++;
            }
            else
            {
                _waitingForWindow.RemoveAt(i);
            }
        }

        return done;
    }

    private static void Complete(List<TaskCompletionSource<FlushResult>>? flushed)
    {
        if (flushed is null)
        {
            return;
        }

        foreach (var waiter in flushed)
        {
            waiter.TrySetResult(default);
        }
    }

    private H2ServerStream? Find(int streamId)
    {
        lock (Output.Gate)
        {
            return _streams.GetValueOrDefault(streamId);
        }
    }

    private static void RequireStreamId(H2FrameType type, int streamId)
    {
        if (streamId == 0)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"{type} on stream 0");
        }
    }

    private static void RequireLength(H2FrameType type, ReadOnlySpan<byte> payload, int length) =>
        H2Frame.RequireLength(type, payload, length, CallerSent);

    private sealed class IgnoredHeaders : IHpackHeaderHandler
    {
        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
        }
    }
}
