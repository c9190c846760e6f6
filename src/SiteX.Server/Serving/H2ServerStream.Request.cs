using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using SiteX.Server.Forwarding.H2;

namespace SiteX.Server.Serving;

/// <summary>The request side of <see cref="H2ServerStream"/>: its header block (RFC 9113 section 8.3) and its body.</summary>
internal sealed partial class H2ServerStream : IHpackHeaderHandler
{
    private readonly Lock _requestLock = new();
    private bool _requestEnded;
    private bool _requestDiscarded;
    private bool _regularHeaderSeen;
    private string? _authority;
    private string? _rawPath;
    private string? _malformed;

    /// <summary>Why the request's header block is malformed (null when it is not); the stream is then reset with
    /// PROTOCOL_ERROR and the application never sees it.</summary>
    public string? Malformed => _malformed;

    /// <summary>Whether the caller ended the request (END_STREAM), reset it, or the stream no longer takes its body
    /// (read loop).</summary>
    public bool RequestClosed => _requestEnded;

    private long _receiveWindow;
    private int _credit;
    private IRequestDataSink? _sink;
    private long _pipeWritten; // read loop
    private long _pipeConsumed; // by the application, through RequestBodyReader

    /// <summary>Takes <paramref name="length"/> from the stream's receive window (read loop); negative: the caller sent
    /// more than it may.</summary>
    public long TakeReceiveWindow(int length) => Interlocked.Add(ref _receiveWindow, -length);

    /// <summary>Gives the caller <paramref name="length"/> more bytes of window (sent as WINDOW_UPDATE by the caller of this).</summary>
    public void GrantReceiveWindow(int length) => Interlocked.Add(ref _receiveWindow, length);

    /// <summary>Adds consumed bytes to the credit to give back; returns the credit to send once it reached
    /// <paramref name="threshold"/>, else 0.</summary>
    public int TakeCredit(int length, int threshold) => H2ServerConnection.TakeCredit(ref _credit, length, threshold);

    void IHpackHeaderHandler.OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (_malformed is not null)
        {
            return;
        }

        if (value.IndexOfAny((byte)0, (byte)'\r', (byte)'\n') >= 0)
        {
            _malformed = "a header value contains NUL, CR or LF";
            return;
        }

        if (name.Length > 0 && name[0] == (byte)':')
        {
            OnPseudoHeader(name, value);
            return;
        }

        _regularHeaderSeen = true;
        if (name.Length == 0 || name.IndexOfAnyExcept(s_headerNameBytes) >= 0)
        {
            _malformed = "a header name is empty or has a character other than lower-case letters, digits and !#$%&'*+-.^_`|~";
            return;
        }

        if (name.SequenceEqual("connection"u8) || name.SequenceEqual("keep-alive"u8) || name.SequenceEqual("proxy-connection"u8)
            || name.SequenceEqual("transfer-encoding"u8) || name.SequenceEqual("upgrade"u8))
        {
            _malformed = $"the connection-specific header \"{_connection.HeaderStrings.Get(name)}\" is not allowed in HTTP/2";
            return;
        }

        if (name.SequenceEqual("te"u8) && !value.SequenceEqual("trailers"u8))
        {
            _malformed = "header \"te\" may only be \"trailers\" in HTTP/2";
            return;
        }

        var strings = _connection.HeaderStrings;
        RequestHeaders.Append(strings.Get(name), strings.Get(value));
    }

    private void OnPseudoHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (_regularHeaderSeen)
        {
            _malformed = "a pseudo-header follows a regular header";
            return;
        }

        if (name.SequenceEqual(":method"u8))
        {
            _malformed = Method.Length > 0 ? "two :method pseudo-headers" : null;
            Method = HttpMethods.GetCanonicalizedValue(_connection.HeaderStrings.Get(value));
        }
        else if (name.SequenceEqual(":scheme"u8))
        {
            _malformed = _schemeSeen ? "two :scheme pseudo-headers" : null;
            _schemeSeen = true;
            Scheme = value.SequenceEqual("https"u8) ? "https" : value.SequenceEqual("http"u8) ? "http" : _connection.HeaderStrings.Get(value);
        }
        else if (name.SequenceEqual(":path"u8))
        {
            _malformed = _rawPath is not null ? "two :path pseudo-headers" : null;
            _rawPath = _connection.HeaderStrings.Get(value);
        }
        else if (name.SequenceEqual(":authority"u8))
        {
            _malformed = _authority is not null ? "two :authority pseudo-headers" : null;
            _authority = _connection.HeaderStrings.Get(value);
        }
        else
        {
            _malformed = $"unknown pseudo-header \"{_connection.HeaderStrings.Get(name)}\"";
        }
    }

    private bool _schemeSeen;

    /// <summary>Checks the decoded header block and fills in the request line (read loop). False when it is malformed
    /// (<see cref="Malformed"/> says why).</summary>
    public bool CompleteHeaders(bool endStream)
    {
        CanHaveBody = !endStream;
        if (_malformed is not null)
        {
            return false;
        }

        if (Method.Length == 0 || !_schemeSeen || string.IsNullOrEmpty(_rawPath))
        {
            _malformed = Method == HttpMethods.Connect
                ? "CONNECT is not supported"
                : "the request lacks :method, :scheme or :path";
            return false;
        }

        if (_rawPath[0] != '/' && !(_rawPath == "*" && Method == HttpMethods.Options))
        {
            _malformed = "the :path is not an absolute path";
            return false;
        }

        RawTarget = _rawPath;
        var query = _rawPath.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? _rawPath : _rawPath[..query];
        QueryString = query < 0 ? "" : _rawPath[query..];
        Path = path.Contains('%', StringComparison.Ordinal) ? PathString.FromUriComponent(path).Value ?? path : path;
        if (_authority is not null && !RequestHeaders.ContainsKey("Host"))
        {
            RequestHeaders.Host = _authority;
        }

        return true;
    }

    /// <summary>A DATA payload of the request (read loop). False when the application no longer reads the body: the
    /// caller's bytes are then credited back at once.</summary>
    public bool OnRequestData(ReadOnlySequence<byte> payload, bool endStream)
    {
        // The relay's shortcut: when everything put in the pipe before has been consumed, the payload goes straight to
        // the next hop (as far as its windows allow); its bytes are credited back at once.
        if (Volatile.Read(ref _sink) is { } sink && !_requestDiscarded && _pipeWritten == Volatile.Read(ref _pipeConsumed))
        {
            var length = payload.Length;
            var endSent = sink.TrySend(ref payload, endStream);
            var sent = (int)(length - payload.Length);
            if (sent > 0 || endSent)
            {
                _connection.FlushAtEndOfBatch(sink);
            }

            if (sent > 0)
            {
                _connection.CreditConsumed(this, sent); // the read loop flushes at the end of its batch
            }
        }

        bool taken;
        lock (_requestLock)
        {
            taken = !_requestDiscarded;
            if (taken && !payload.IsEmpty)
            {
                foreach (var segment in payload)
                {
                    _requestPipe.Writer.Write(segment.Span);
                }

                _pipeWritten += payload.Length;

                // Never pauses (no threshold): the windows bound what is buffered.
                var flush = _requestPipe.Writer.FlushAsync();
                if (!flush.IsCompleted)
                {
                    _ = flush.AsTask();
                }
            }

            if (endStream)
            {
                _requestEnded = true;
                if (!_requestDiscarded)
                {
                    _requestPipe.Writer.Complete();
                }
            }
        }

        return taken;
    }

    /// <summary>Ends the request body with <paramref name="error"/> (a reset, a lost connection): a pending or later
    /// read throws it.</summary>
    public void FailRequest(Exception error)
    {
        lock (_requestLock)
        {
            if (!_requestEnded && !_requestDiscarded)
            {
                _requestPipe.Writer.Complete(error);
            }

            _requestEnded = true;
        }
    }

    /// <summary>Stops taking the request body (the stream ended): its buffered bytes are returned to the pool.</summary>
    private void DiscardRequest()
    {
        lock (_requestLock)
        {
            if (_requestDiscarded)
            {
                return;
            }

            _requestDiscarded = true;
            if (!_requestEnded)
            {
                _requestPipe.Writer.Complete();
            }
        }

        _requestPipe.Reader.Complete();
    }

    private static readonly SearchValues<byte> s_headerNameBytes = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"u8);

    /// <summary>The request body as the application reads it: each <see cref="AdvanceTo(SequencePosition, SequencePosition)"/>
    /// credits what was newly examined back to the caller's windows (as Kestrel does: an application that waits for a
    /// whole message examines without consuming, and a message larger than the window must still arrive).</summary>
    private sealed class RequestBodyReader(H2ServerStream stream) : PipeReader, IDirectRequestBody
    {
        private ReadOnlySequence<byte> _last;
        private long _consumed;
        private long _examined;

        private PipeReader Inner => stream._requestPipe.Reader;

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            var consumedLength = _last.Slice(_last.Start, consumed).Length;
            var examinedTo = _consumed + _last.Slice(_last.Start, examined).Length;
            _last = default;
            Inner.AdvanceTo(consumed, examined);
            _consumed += consumedLength;
            Volatile.Write(ref stream._pipeConsumed, _consumed);
            if (examinedTo > _examined)
            {
                var credit = (int)(examinedTo - _examined);
                _examined = examinedTo;
                stream._connection.OnRequestConsumed(stream, credit);
            }
        }

        public override void CancelPendingRead() => Inner.CancelPendingRead();

        public void SetSink(IRequestDataSink? sink) => Volatile.Write(ref stream._sink, sink);

        public override void Complete(Exception? exception = null)
        {
            // The application stops reading; the stream discards the rest when it ends.
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var read = Inner.ReadAsync(cancellationToken);
            if (read.IsCompletedSuccessfully)
            {
                var result = read.Result;
                _last = result.Buffer;
                return new ValueTask<ReadResult>(result);
            }

            return Awaited(read);
        }

        private async ValueTask<ReadResult> Awaited(ValueTask<ReadResult> read)
        {
            var result = await read.ConfigureAwait(false);
            _last = result.Buffer;
            return result;
        }

        public override bool TryRead(out ReadResult result)
        {
            if (Inner.TryRead(out result))
            {
                _last = result.Buffer;
                return true;
            }

            return false;
        }
    }
}
