using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using SiteX.Server.Serving;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// One forwarded call on an <see cref="H2Connection"/>: the request side runs on the caller's request (see
/// H2Stream.Request.cs); the response side is driven by the connection's read loop, which writes the next hop's
/// response straight into the caller's <see cref="HttpResponse"/> (status, headers, body into
/// <see cref="HttpResponse.BodyWriter"/>, trailers).
/// </summary>
/// <remarks>
/// The read loop never waits for the caller. When the caller's response pipe pushes back (a flush that does not
/// complete at once), the stream takes over: the read loop queues later DATA and trailers, and the request side waits
/// for the flush and writes the queue. Window updates for the next hop follow what the caller has taken, so a slow
/// caller slows the next hop. Once the request side detaches (<see cref="Detach"/>), the read loop no longer touches
/// the caller's response, which Kestrel may then reuse.
/// </remarks>
internal sealed partial class H2Stream : IHpackHeaderHandler
{
    /// <summary>The chunks a pushed-back response queues (a DATA payload each, at most 16 KiB): up to a stream window
    /// (1 MiB) per stream at once, more than the shared pool keeps, so they have a pool of their own.</summary>
    private static readonly ArrayPool<byte> QueuedChunks = ArrayPool<byte>.Create(H2Frame.DefaultMaxFrameSize, 1024);

    private readonly Lock _lock = new();
    private readonly HttpContext _context;
    private readonly H2Connection _connection;
    private readonly AsyncSignal _responseSignal = new();
    private readonly AsyncSignal _sendSignal = new();
    private readonly bool _inlineCompletion;
    private readonly bool _flushAtEnd;
    private readonly IDirectDataWriter? _direct;

    // Response side, under _lock.
    private DecodeTarget _target;
    private bool _headersDone;
    private bool _endReceived;
    private bool _detached;
    private bool _deferred;
    private bool _hasPendingFlush;
    private ValueTask<FlushResult> _pendingFlush;
    private Queue<(byte[] Buffer, int Length)>? _queued;
    private int _deferredCredit;
    private List<KeyValuePair<string, string>>? _queuedTrailers;
    private List<string>? _connectionHeader;
    private int _unflushed;
    private bool _signalPending;
    private Exception? _failure;
    private ForwarderError _failureKind;
    private H2ErrorCode _resetCode = H2ErrorCode.Cancel;

    public H2Stream(H2Connection connection, HttpContext context, bool inlineCompletion)
    {
        _connection = connection;
        _context = context;
        _inlineCompletion = inlineCompletion;

        // Kestrel sends what is left in an HTTP/2 or HTTP/3 response with its end (trailers, END_STREAM), and the
        // last chunk of a chunked HTTP/1.1 one. An HTTP/1.1 response with Content-Length has no such suffix: bytes
        // written with GetSpan/Advance and not flushed stay in the connection's pipe when the request completes.
        _flushAtEnd = !HttpProtocol.IsHttp2(context.Request.Protocol) && !HttpProtocol.IsHttp3(context.Request.Protocol);

        // Only when nothing replaced the response body (a wrapper would be bypassed).
        _direct = context.Features.Get<IHttpResponseBodyFeature>() as IDirectDataWriter;
    }

    private enum DecodeTarget
    {
        Discard,
        Headers,
        Trailers,
        Informational,
    }

    /// <summary>The stream id, assigned when HEADERS are written.</summary>
    public int Id { get; set; }

    /// <summary>Flow-control window for sending, under the connection's gate.</summary>
    public long SendWindow { get; set; }

    /// <summary>Whether the request side waits for send window (under the connection's gate).</summary>
    public bool WaitingForWindow { get; set; }

    /// <summary>Whether the read loop listed this stream for <see cref="EndBatch"/> (read loop only).</summary>
    public bool InBatch { get; set; }

    /// <summary>When bytes last moved on this stream either way (<see cref="Environment.TickCount64"/>).</summary>
    public long LastActivity { get; set; } = Environment.TickCount64;

    /// <summary>Response body bytes written to the caller.</summary>
    public long ResponseBytes { get; private set; }

    /// <summary>The next hop's HEADERS (or its trailers), decoded by the connection's HPACK decoder (read loop).</summary>
    public void OnHeaders(HpackDecoder decoder, ReadOnlySpan<byte> block, bool endStream)
    {
        LastActivity = Environment.TickCount64;
        lock (_lock)
        {
            _target = _detached || _failure is not null ? DecodeTarget.Discard
                : !_headersDone ? DecodeTarget.Headers
                : DecodeTarget.Trailers;
            DecodeTarget target;
            try
            {
                decoder.Decode(block, this); // may throw HpackException: a connection error
            }
            finally
            {
                target = _target; // Informational when the block was a 1xx response
                _target = DecodeTarget.Discard;
                if (target == DecodeTarget.Headers)
                {
                    _headersDone = true;
                    if (_connectionHeader is not null)
                    {
                        ForwardedHeaders.RemoveNamedIn(_context.Response.Headers, _connectionHeader);
                    }
                }
            }

            if (endStream && target == DecodeTarget.Informational)
            {
                // RFC 9113 section 8.1: a 1xx response cannot end the stream; the response is malformed.
                _resetCode = H2ErrorCode.ProtocolError;
                FailLocked(new H2ProtocolException(H2ErrorCode.ProtocolError, "the next hop ended the stream with an informational (1xx) response"), ForwarderError.Request);
            }
            else if (endStream)
            {
                _endReceived = true;
                _signalPending = true;
            }
        }
    }

    void IHpackHeaderHandler.OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        switch (_target)
        {
            case DecodeTarget.Headers when name.Length > 0 && name[0] == (byte)':':
                if (name.SequenceEqual(":status"u8) && TryParseStatus(value, out var status))
                {
                    if (status < 200)
                    {
                        _target = DecodeTarget.Informational; // 1xx: the final response follows.
                        return;
                    }

                    _context.Response.StatusCode = status;
                }

                return;
            case DecodeTarget.Headers:
                var headerName = _connection.HeaderStrings.Get(name);
                var headerValue = _connection.HeaderStrings.Get(value);
                if (headerName == "connection")
                {
                    (_connectionHeader ??= []).Add(headerValue);
                }

                ForwardedHeaders.AppendResponse(_context.Response.Headers, headerName, headerValue);
                return;
            case DecodeTarget.Trailers when name.Length > 0 && name[0] != (byte)':':
                var trailer = new KeyValuePair<string, string>(_connection.HeaderStrings.Get(name), _connection.HeaderStrings.Get(value));
                if (_deferred)
                {
                    (_queuedTrailers ??= []).Add(trailer);
                }
                else
                {
                    AppendTrailer(trailer);
                }

                return;
        }
    }

    private void AppendTrailer(KeyValuePair<string, string> trailer)
    {
        if (_context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers is { IsReadOnly: false } trailers)
        {
            ForwardedHeaders.AppendResponse(trailers, trailer.Key, trailer.Value);
        }
    }

    private static bool TryParseStatus(ReadOnlySpan<byte> value, out int status)
    {
        status = 0;
        if (value.Length != 3)
        {
            return false;
        }

        foreach (var b in value)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            status = (status * 10) + (b - '0');
        }

        return status >= 100;
    }

    /// <summary>A DATA payload of the next hop (read loop). Returns the bytes the connection may credit back at once
    /// (all of them when nobody will consume them).</summary>
    public int OnData(ReadOnlySpan<byte> payload, int flowLength, bool endStream)
    {
        LastActivity = Environment.TickCount64;
        lock (_lock)
        {
            if (_detached || _failure is not null)
            {
                return flowLength;
            }

            if (!_headersDone)
            {
                FailLocked(new IOException("the next hop sent DATA before its response headers"), ForwarderError.Request);
                return flowLength;
            }

            if (_deferred)
            {
                if (payload.Length > 0)
                {
                    var copy = QueuedChunks.Rent(payload.Length);
                    payload.CopyTo(copy);
                    (_queued ??= new()).Enqueue((copy, payload.Length));
                }
            }
            else if (payload.Length > 0)
            {
                // SiteX's own server takes the payload straight into the caller's connection as a DATA frame when
                // nothing is buffered before it and the windows allow (one copy instead of two).
                if (_direct is null || !_direct.TryWriteData(payload))
                {
                    var writer = _context.Response.BodyWriter;
                    var span = writer.GetSpan(payload.Length);
                    payload.CopyTo(span);
                    writer.Advance(payload.Length);
                }

                _unflushed += payload.Length;
                ResponseBytes += payload.Length;
            }

            // Padding is credited at once; payload when the caller took it.
            var credit = flowLength - payload.Length;
            if (endStream)
            {
                _endReceived = true;
                _signalPending = true;
            }

            return credit;
        }
    }

    /// <summary>After a batch of frames (read loop): flushes what was written to the caller and wakes the request
    /// side when there is news. Returns bytes to credit back to the next hop.</summary>
    public int EndBatch()
    {
        var credit = 0;
        var signal = false;
        lock (_lock)
        {
            // A response that ended in this batch is not flushed here when Kestrel sends its body with the end of the
            // call (HTTP/2, HTTP/3): one write instead of two.
            if (!_detached && !_deferred && _unflushed > 0 && _failure is null && (!_endReceived || _flushAtEnd))
            {
                var unflushed = _unflushed;
                _unflushed = 0;
                ValueTask<FlushResult> flush;
                try
                {
                    flush = _context.Response.BodyWriter.FlushAsync(_context.RequestAborted);
                }
                catch (Exception ex)
                {
                    FailLocked(ex, ForwarderError.ResponseBodyClient);
                    flush = default;
                }

                if (_failure is null)
                {
                    if (flush.IsCompletedSuccessfully)
                    {
                        if (flush.Result is { IsCanceled: true } or { IsCompleted: true })
                        {
                            FailLocked(new IOException("the caller stopped reading the response"), ForwarderError.ResponseBodyClient);
                        }
                        else
                        {
                            credit = unflushed;
                        }
                    }
                    else
                    {
                        // The caller pushes back: the request side waits for this flush and takes over.
                        _pendingFlush = flush;
                        _hasPendingFlush = true;
                        _deferred = true;
                        _deferredCredit = unflushed;
                        _signalPending = true;
                    }
                }
            }

            signal = _signalPending;
            _signalPending = false;
        }

        if (signal)
        {
            _sendSignal.Set();
            _responseSignal.Set(_inlineCompletion);
        }

        return credit;
    }

    /// <summary>No bytes moved either way for the idle timeout (as YARP's activity timeout): the call ends.</summary>
    public void OnIdle(TimeSpan idleTimeout) =>
        Fail(new TimeoutException($"no bytes moved for {idleTimeout}"), _headersDone ? ForwarderError.ResponseBodyCanceled : ForwarderError.RequestTimedOut);

    /// <summary>The next hop reset the stream (read loop).</summary>
    public void OnReset(H2ErrorCode code) =>
        Fail(new H2StreamResetException(code), _headersDone ? ForwarderError.ResponseBodyDestination : ForwarderError.Request, retryable: code == H2ErrorCode.RefusedStream && !_headersDone);

    /// <summary>A stream error of the next hop (RFC 9113 section 5.4.2): the call fails and the stream is reset with
    /// <paramref name="code"/>; the connection carries on.</summary>
    public void FailStream(H2ErrorCode code, string message)
    {
        lock (_lock)
        {
            if (_failure is null)
            {
                _resetCode = code;
            }
        }

        Fail(new H2ProtocolException(code, message), ForwarderError.Request);
    }

    /// <summary>Fails the stream: connection lost, GOAWAY, reset, cancellation. The first failure wins.</summary>
    public void Fail(Exception exception, ForwarderError kind, bool retryable = false)
    {
        lock (_lock)
        {
            if (_failure is not null || (_endReceived && !_deferred))
            {
                return;
            }

            Retryable = retryable;
            FailLocked(exception, kind == ForwarderError.Request && _headersDone ? ForwarderError.ResponseBodyDestination : kind);
        }

        _responseSignal.Set();
        _sendSignal.Set();
        CancelRequestRead();
    }

    private void FailLocked(Exception exception, ForwarderError kind)
    {
        _failure ??= exception;
        _failureKind = kind;
        _signalPending = true;
    }

    /// <summary>Whether the call may be sent again on another connection (refused, or above a GOAWAY's last stream).</summary>
    public bool Retryable { get; private set; }

    /// <summary>Wakes the request side when it waits for send window (under the connection's gate or not).</summary>
    public void WakeSender() => _sendSignal.Set();
}
