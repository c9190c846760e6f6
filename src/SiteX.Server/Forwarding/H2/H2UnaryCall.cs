using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding.H2;

/// <summary>What a unary gRPC call SiteX made itself over the relay came back with: the relay's outcome (YARP's error
/// values, <see cref="Failure"/> set when it is not <see cref="ForwarderError.None"/>), the HTTP status, the
/// <c>grpc-status</c> and <c>grpc-message</c> (from the trailers or a trailers-only response) and the response body,
/// valid until the result is disposed (its buffers then go back to the pool).</summary>
internal sealed class H2UnaryResult(ForwarderError error, Exception? failure, int httpStatus, string? grpcStatus, string? grpcMessage, H2UnaryCall? call) : IDisposable
{
    public ForwarderError Error { get; } = error;

    public Exception? Failure { get; } = failure;

    public int HttpStatus { get; } = httpStatus;

    public string? GrpcStatus { get; } = grpcStatus;

    public string? GrpcMessage { get; } = grpcMessage;

    public ReadOnlySequence<byte> Body { get; } = call?.ResponseBody() ?? ReadOnlySequence<byte>.Empty;

    public void Dispose() => call?.ReleaseResponse();
}

/// <summary>
/// A unary gRPC call SiteX makes itself (a queue push or an <c>invoke</c> it relays to the next gateway), sent over
/// the relay's pooled connections as a forwarded call is (<see cref="H2Stream"/>): the request body is a message
/// in memory, the response is collected in memory. Its features stand in for a caller's request and response.
/// </summary>
internal sealed class H2UnaryCall :
    IHttpRequestFeature,
    IHttpRequestBodyDetectionFeature,
    IRequestBodyPipeFeature,
    IHttpResponseFeature,
    IHttpResponseBodyFeature,
    IHttpResponseTrailersFeature,
    IHttpRequestLifetimeFeature
{
    // The response pipe never pushes back: the call reads it whole once the response ended.
    private static readonly PipeOptions s_responseOptions = new(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false);

    private readonly Pipe _response = new(s_responseOptions);

    public H2UnaryCall(ReadOnlySequence<byte> requestBody, string path, CancellationToken requestAborted)
    {
        Reader = PipeReader.Create(requestBody);
        Path = path;
        RequestAborted = requestAborted;
        var features = new FeatureCollection(7);
        features.Set<IHttpRequestFeature>(this);
        features.Set<IHttpRequestBodyDetectionFeature>(this);
        features.Set<IRequestBodyPipeFeature>(this);
        features.Set<IHttpResponseFeature>(this);
        features.Set<IHttpResponseBodyFeature>(this);
        features.Set<IHttpResponseTrailersFeature>(this);
        features.Set<IHttpRequestLifetimeFeature>(this);
        Context = new DefaultHttpContext(features);
    }

    /// <summary>The context the relay sends from and writes the response into.</summary>
    public HttpContext Context { get; }

    /// <summary>The response body received, once the relay returned; valid until <see cref="ReleaseResponse"/>.</summary>
    public ReadOnlySequence<byte> ResponseBody()
    {
        _response.Writer.Complete();
        return _response.Reader.TryRead(out var read) ? read.Buffer : ReadOnlySequence<byte>.Empty;
    }

    /// <summary>Gives the response body's buffers back to the pool.</summary>
    public void ReleaseResponse() => _response.Reader.Complete();

    // IHttpRequestFeature: what the relay reads of "the caller's" request.
    public string Protocol { get; set; } = HttpProtocol.Http2;

    public string Scheme { get; set; } = "https";

    public string Method { get; set; } = HttpMethods.Post;

    public string PathBase { get; set; } = "";

    public string Path { get; set; }

    public string QueryString { get; set; } = "";

    public string RawTarget { get; set; } = "";

    IHeaderDictionary IHttpRequestFeature.Headers { get; set; } = new HeaderDictionary();

    Stream IHttpRequestFeature.Body
    {
        get => Reader.AsStream();
        set => throw new NotSupportedException();
    }

    // IHttpRequestBodyDetectionFeature, IRequestBodyPipeFeature
    public bool CanHaveBody => true;

    public PipeReader Reader { get; }

    // IHttpResponseFeature
    public int StatusCode { get; set; } = StatusCodes.Status200OK;

    public string? ReasonPhrase { get; set; }

    public IHeaderDictionary Headers { get; set; } = new HeaderDictionary();

    Stream IHttpResponseFeature.Body
    {
        get => _response.Writer.AsStream();
        set => throw new NotSupportedException();
    }

    public bool HasStarted => false; // nothing has gone to a caller: a failed call can always be retried or answered

    public void OnStarting(Func<object, Task> callback, object state)
    {
    }

    public void OnCompleted(Func<object, Task> callback, object state)
    {
    }

    // IHttpResponseBodyFeature
    public Stream Stream => _response.Writer.AsStream();

    public PipeWriter Writer => _response.Writer;

    public void DisableBuffering()
    {
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task CompleteAsync() => Task.CompletedTask;

    // IHttpResponseTrailersFeature
    public IHeaderDictionary Trailers { get; set; } = new HeaderDictionary();

    // IHttpRequestLifetimeFeature
    public CancellationToken RequestAborted { get; set; }

    public void Abort()
    {
    }
}
