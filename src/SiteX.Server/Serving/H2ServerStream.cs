using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using SiteX.Server.Forwarding.H2;

namespace SiteX.Server.Serving;

/// <summary>
/// One request on an <see cref="H2ServerConnection"/>: the features ASP.NET Core's pipeline sees for it (request line
/// and headers, the request body as a pipe, the response, trailers, reset, abort), fed by the connection's read loop and
/// answered straight into the connection's output.
/// </summary>
/// <remarks>
/// The request body arrives in a pipe the connection writes DATA into; the windows the caller may send in are credited
/// back as the application examines it (<see cref="RequestBodyReader"/>). The response body is kept in pooled chunks
/// until a flush, which writes it as DATA frames into the connection's output as far as the caller's windows allow;
/// the rest waits for WINDOW_UPDATE, and a flush waits for it only when more than 256 KiB wait. The HTTP/2 relay
/// writes the next hop's DATA straight into the output instead (<see cref="IDirectDataWriter"/>).
/// </remarks>
internal sealed partial class H2ServerStream :
    IHttpRequestFeature,
    IHttpRequestBodyDetectionFeature,
    IRequestBodyPipeFeature,
    IHttpResponseFeature,
    IHttpResponseBodyFeature,
    IHttpResponseTrailersFeature,
    IHttpResetFeature,
    IHttpRequestLifetimeFeature,
    IHttpRequestIdentifierFeature,
    IHttpMaxRequestBodySizeFeature,
    IThreadPoolWorkItem,
    IDirectDataWriter,
    IDisposable
{
    private readonly H2ServerConnection _connection;
    private readonly H2ServerFeatures _features;
    private readonly CancellationTokenSource _aborted = new();
    private readonly Pipe _requestPipe;
    private readonly RequestBodyReader _requestReader;
    private readonly ResponseBodyWriter _responseWriter;
    private Stream? _requestStream;
    private Stream? _ownRequestStream;
    private Stream? _wrappedStream;
    private PipeReader? _wrappedReader;
    private Stream? _responseStream;
    private string? _traceIdentifier;
    private List<(Func<object, Task> Callback, object State)>? _onStarting;
    private List<(Func<object, Task> Callback, object State)>? _onCompleted;
    private readonly H2ServerHeaderSet _headers;
    private IHeaderDictionary _requestHeaders;
    private IHeaderDictionary _responseHeaders;
    private bool _leftConnection;

    public H2ServerStream(H2ServerConnection connection, int id, IFeatureCollection connectionFeatures, PipeOptions requestPipeOptions, H2ServerHeaderSet headers, bool requestEnded)
    {
        _connection = connection;
        Id = id;
        _headers = headers;
        _requestHeaders = headers.Request;
        _responseHeaders = headers.Response;
        Trailers = headers.Trailers;
        _requestEnded = requestEnded;
        _requestPipe = new Pipe(requestPipeOptions);
        if (requestEnded)
        {
            _requestPipe.Writer.Complete();
        }

        _requestReader = new RequestBodyReader(this);
        _responseWriter = new ResponseBodyWriter(this);
        _features = new H2ServerFeatures(this, connectionFeatures);
    }

    /// <summary>The stream id.</summary>
    public int Id { get; }

    /// <summary>Whether the stream left its connection's table after its response ended (set once, under the output
    /// gate; a read outside it that sees false takes the gate and looks again).</summary>
    public bool LeftConnection
    {
        get => Volatile.Read(ref _leftConnection);
        set => Volatile.Write(ref _leftConnection, value);
    }

    /// <summary>The features of this request, falling back to the connection's (TLS, peer identity, endpoints).</summary>
    public IFeatureCollection Features => _features;

    // IHttpRequestFeature
    public string Protocol { get; set; } = HttpProtocol.Http2;

    public string Scheme { get; set; } = "http";

    public string Method { get; set; } = "";

    public string PathBase { get; set; } = "";

    public string Path { get; set; } = "";

    public string QueryString { get; set; } = "";

    public string RawTarget { get; set; } = "";

    IHeaderDictionary IHttpRequestFeature.Headers
    {
        get => _requestHeaders;
        set => _requestHeaders = value;
    }

    public IHeaderDictionary RequestHeaders => _requestHeaders;

    Stream IHttpRequestFeature.Body
    {
        get => _requestStream ??= _ownRequestStream ??= _requestReader.AsStream();
        set => _requestStream = value;
    }

    // IHttpRequestBodyDetectionFeature
    public bool CanHaveBody { get; private set; }

    // IRequestBodyPipeFeature: the body as it arrived, or (as Kestrel does) a reader over the stream middleware put in
    // its place (a buffered copy read for a token's digest, a counting stream).
    PipeReader IRequestBodyPipeFeature.Reader
    {
        get
        {
            if (_requestStream is null || ReferenceEquals(_requestStream, _ownRequestStream))
            {
                return _requestReader;
            }

            if (!ReferenceEquals(_wrappedStream, _requestStream))
            {
                _wrappedStream = _requestStream;
                _wrappedReader = PipeReader.Create(_requestStream, new StreamPipeReaderOptions(leaveOpen: true));
            }

            return _wrappedReader!;
        }
    }

    // IHttpRequestIdentifierFeature
    public string TraceIdentifier
    {
        get => _traceIdentifier ??= $"{_connection.ConnectionId}:{Id:X8}";
        set => _traceIdentifier = value;
    }

    // IHttpMaxRequestBodySizeFeature: flow control bounds what is buffered; the application bounds messages.
    public bool IsReadOnly => true;

    public long? MaxRequestBodySize
    {
        get => null;
        set => throw new InvalidOperationException("SiteX's HTTP/2 server has no request body size limit to change");
    }

    // IHttpRequestLifetimeFeature
    public CancellationToken RequestAborted
    {
        get => _aborted.Token;
        set => throw new NotSupportedException();
    }

    public void Abort() => ResetAndAbort(H2ErrorCode.InternalError, "the application aborted the request");

    // IHttpResetFeature
    public void Reset(int errorCode) => ResetAndAbort((H2ErrorCode)errorCode, "the application reset the stream");

    // IHttpResponseFeature
    public int StatusCode { get; set; } = StatusCodes.Status200OK;

    public string? ReasonPhrase { get; set; }

    IHeaderDictionary IHttpResponseFeature.Headers
    {
        get => _responseHeaders;
        set => _responseHeaders = value;
    }

    private IHeaderDictionary ResponseHeaders => _responseHeaders;

    Stream IHttpResponseFeature.Body
    {
        get => ((IHttpResponseBodyFeature)this).Stream;
        set => throw new NotSupportedException("replace the IHttpResponseBodyFeature instead");
    }

    public bool HasStarted => _started;

    public void OnStarting(Func<object, Task> callback, object state)
    {
        if (_started)
        {
            throw new InvalidOperationException("the response has already started");
        }

        (_onStarting ??= []).Insert(0, (callback, state)); // run in reverse order of registration, as Kestrel does
    }

    public void OnCompleted(Func<object, Task> callback, object state) => (_onCompleted ??= []).Insert(0, (callback, state));

    // IHttpResponseTrailersFeature
    public IHeaderDictionary Trailers { get; set; }

    // IHttpResponseBodyFeature
    Stream IHttpResponseBodyFeature.Stream => _responseStream ??= _responseWriter.AsStream();

    PipeWriter IHttpResponseBodyFeature.Writer => _responseWriter;

    public void DisableBuffering()
    {
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => _responseWriter.FlushAsync(cancellationToken).AsTask();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(((IHttpResponseBodyFeature)this).Stream, path, offset, count, cancellationToken);

    // The application asked for the end now: flushed at once, not batched with other responses.
    public Task CompleteAsync() => EndResponseAsync(null, soon: false);

    /// <summary>The header dictionaries this stream was created with (its own, whatever the application replaced
    /// them with), to be kept for another request once this one is over.</summary>
    public H2ServerHeaderSet HeaderSet => _headers;

    public void Dispose() => _aborted.Dispose();

    void IThreadPoolWorkItem.Execute() => _ = _connection.RunAsync(this);

    /// <summary>Starts the application on this request, on the thread pool (the read loop goes on).</summary>
    public void Start() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

    private async Task FireOnStartingAsync()
    {
        var callbacks = _onStarting;
        _onStarting = null;
        if (callbacks is null)
        {
            return;
        }

        foreach (var (callback, state) in callbacks)
        {
            await callback(state).ConfigureAwait(false);
        }
    }

    /// <summary>Runs the OnCompleted callbacks (after the response ended); their failures are the caller's to log.</summary>
    public async Task FireOnCompletedAsync()
    {
        var callbacks = _onCompleted;
        _onCompleted = null;
        if (callbacks is null)
        {
            return;
        }

        List<Exception>? errors = null;
        foreach (var (callback, state) in callbacks)
        {
            try
            {
                await callback(state).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                (errors ??= []).Add(ex);
            }
        }

        if (errors is not null)
        {
            throw new AggregateException(errors);
        }
    }
}
