using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Internal;
using SiteX.Server.Routing;
using SiteX.Server.Security;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding.H2;

/// <summary>What <see cref="H2Relay.ForwardAsync"/> did: the outcome (YARP's error values, so both engines are
/// classified alike; the exception is in the call's <see cref="IForwarderErrorFeature"/>) and the body bytes moved.</summary>
internal readonly record struct H2RelayResult(ForwarderError Error, long RequestBytes, long ResponseBytes);

/// <summary>
/// Forwards a gRPC call over a pooled, multiplexed HTTP/2 connection to its next hop, without
/// <see cref="HttpRequestMessage"/> or YARP: the request's headers are HPACK-encoded straight from the
/// <see cref="HttpContext"/> (<see cref="ForwardedHeaders"/>), its body read from <see cref="HttpRequest.BodyReader"/>
/// into DATA frames, and the response written by the connection's read loop into the caller's response
/// (<see cref="H2Stream"/>).
/// </summary>
/// <remarks>
/// Per call: one stream object and its header block; the request side runs on the caller's request thread and sends
/// HEADERS and the first DATA in one write when the body is already there; the read loop delivers the response, and
/// the request continues once (a single hand-off) when it ends. Bytes are copied once each way in user space: the
/// caller's body into the connection's write buffer, and the next hop's DATA into the caller's response pipe.
/// </remarks>
internal sealed class H2Relay : IDisposable
{
    private readonly ConcurrentDictionary<PoolKey, H2EndpointPool> _pools = new();
    private readonly List<H2EndpointPool> _retired = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly H2ConnectionOptions _options;
    private readonly ILogger<H2Relay> _logger;
    private readonly RouteTableManager? _routes;
    private bool _disposed;

    public H2Relay(IOptions<SiteXOptions> options, RouteTableManager routes, ILogger<H2Relay> logger)
        : this(options, logger)
    {
        _routes = routes;
        routes.Changed += Retain;
    }

    /// <summary>A relay that keeps every pool it opened (tests without a route table).</summary>
    internal H2Relay(IOptions<SiteXOptions> options, ILogger<H2Relay> logger)
    {
        var o = options.Value;
        _options = new H2ConnectionOptions(o.ConnectTimeout, o.IdleTimeout, o.KeepAlivePingDelay, o.KeepAlivePingTimeout);
        _logger = logger;
    }

    private readonly record struct PoolKey(string Host, int Port, OutboundTls? Tls);

    /// <summary>How long a retired pool stays before it closes its idle connections, at least.</summary>
    internal TimeSpan RetireGrace { get; set; } = TimeSpan.FromSeconds(2);

    private long _directRequestBytes;

    /// <summary>Request body bytes that went straight from the caller's connection to the next hop's, skipping the
    /// body pipe (<see cref="Serving.IDirectRequestBody"/>; for tests and diagnostics).</summary>
    internal long DirectRequestBytes => Interlocked.Read(ref _directRequestBytes);

    /// <summary>Pools of TLS next hops in use (for tests and diagnostics).</summary>
    internal int ActiveTlsPools => _pools.Keys.Count(k => k.Tls is not null);

    /// <summary>Retired pools whose connections are not closed yet.</summary>
    internal int RetiredPools
    {
        get
        {
            lock (_gate)
            {
                return _retired.Count;
            }
        }
    }

    /// <summary>Retires the pools of next hops (host, port, TLS identity) that <paramref name="table"/> no longer
    /// routes to: new calls get a new pool at once, calls running on the old one finish, then its connections close.
    /// A reload that leaves a next hop alone keeps its connections.</summary>
    private void Retain(RouteTable table)
    {
        var live = new HashSet<PoolKey>();
        foreach (var rule in table.Config.Rules)
        {
            foreach (var endpoint in rule.Endpoints)
            {
                if (endpoint.Protocol == EndpointProtocol.Grpc && endpoint.Host is not null)
                {
                    live.Add(new PoolKey(endpoint.Host, endpoint.Port, endpoint.UseTls ? endpoint.Tls ?? OutboundTls.WithoutFiles(endpoint) : null));
                }
            }
        }

        List<H2EndpointPool> retired = [];
        lock (_gate)
        {
            foreach (var (key, pool) in _pools)
            {
                if (!live.Contains(key) && _pools.TryRemove(key, out _))
                {
                    retired.Add(pool);
                    _retired.Add(pool);
                }
            }
        }

        foreach (var pool in retired)
        {
            _ = DisposeWhenIdleAsync(pool);
        }
    }

    private async Task DisposeWhenIdleAsync(H2EndpointPool pool)
    {
        if (!await Retirement.WaitUntilUnusedAsync(() => pool.ActiveStreams, RetireGrace, _stopping.Token).ConfigureAwait(false))
        {
            return; // Dispose() disposes everything.
        }

        lock (_gate)
        {
            if (!_retired.Remove(pool))
            {
                return;
            }
        }

        pool.Dispose();
    }

    /// <summary>The pool of connections to <paramref name="endpoint"/> (a gRPC endpoint).</summary>
    public H2EndpointPool PoolFor(RouteDestination endpoint)
    {
        var key = new PoolKey(endpoint.Config.Host!, endpoint.Config.Port, endpoint.IsHttps ? endpoint.Tls : null);
        if (_pools.TryGetValue(key, out var pool))
        {
            return pool;
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        if (endpoint.IsHttps && endpoint.Tls is null)
        {
            throw new InvalidOperationException($"the TLS settings of {endpoint.Display} were not loaded; build route tables through RouteTableManager");
        }

        return _pools.GetOrAdd(key, k => new H2EndpointPool(k.Host, k.Port, k.Tls, _options, _logger));
    }

    /// <summary>Forwards the call in <paramref name="context"/> to <paramref name="endpoint"/> as
    /// <paramref name="plan"/> says, until the response ends, the call fails, or <paramref name="cancellationToken"/>
    /// (the caller's abort or the deadline) fires.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<H2RelayResult> ForwardAsync(HttpContext context, RouteDestination endpoint, ForwardingPlan plan, CancellationToken cancellationToken)
    {
        H2EndpointPool pool;
        try
        {
            pool = PoolFor(endpoint);
        }
        catch (Exception ex)
        {
            return Failed(context, ForwarderError.Request, ex, 0, 0);
        }

        var request = context.Request;
        var path = string.Concat(request.Path.ToUriComponent(), request.QueryString.ToUriComponent());
        if (path.Length == 0)
        {
            path = "/";
        }

        var headers = new H2HeaderBlockWriter();
        try
        {
            headers.WritePseudoHeaders(request.Method, pool.IsHttps, pool.Authority, path);
            ForwardedHeaders.WriteRequest(context, plan, request.Method, path, ref headers);
            return await SendAsync(context, pool, plan, headers.Block, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            headers.Dispose();
        }
    }

    /// <summary>
    /// Makes a unary gRPC call of SiteX's own to <paramref name="endpoint"/> (a relayed <c>invoke</c>) on the pooled
    /// connections forwarded calls use: <paramref name="requestFrame"/> is the length-prefixed request message
    /// (<see cref="GrpcFrame"/>); the response is collected in memory. <paramref name="timeout"/> goes to the next hop as
    /// <c>grpc-timeout</c> and ends the call here when it passes (with <paramref name="cancellationToken"/>).
    /// </summary>
    public async Task<H2UnaryResult> CallUnaryAsync(RouteDestination endpoint, GatewayCall call, string path, IReadOnlyList<KeyValuePair<string, string>> headers,
        ReadOnlySequence<byte> requestFrame, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        H2EndpointPool pool;
        try
        {
            pool = PoolFor(endpoint);
        }
        catch (Exception ex)
        {
            return new H2UnaryResult(ForwarderError.Request, ex, 0, null, null, null);
        }

        using var deadline = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline?.CancelAfter(timeout!.Value);
        var unary = new H2UnaryCall(requestFrame, path, deadline?.Token ?? cancellationToken);
        var block = new H2HeaderBlockWriter();
        try
        {
            block.WritePseudoHeaders(HttpMethods.Post, pool.IsHttps, pool.Authority, path);
            block.Add("content-type", "application/grpc");
            block.Add("te", "trailers");
            if (timeout is { } value)
            {
                block.Add("grpc-timeout", GrpcDeadline.Format(value));
            }

            foreach (var (name, headerValue) in headers)
            {
                block.Add(name, headerValue);
            }

            var result = await SendAsync(unary.Context, pool, new ForwardingPlan(call), block.Block, unary.RequestAborted).ConfigureAwait(false);
            var response = unary.Context.Response;
            var status = response.Headers.TryGetValue("grpc-status", out var inHeaders) ? inHeaders : unary.Trailers["grpc-status"];
            var detail = response.Headers.TryGetValue("grpc-message", out var messageInHeaders) ? messageInHeaders : unary.Trailers["grpc-message"];
            var failure = result.Error == ForwarderError.None ? null : unary.Context.Features.Get<IForwarderErrorFeature>()?.Exception;
            return new H2UnaryResult(result.Error, failure, response.StatusCode, status.Count > 0 ? status.ToString() : null, detail.Count > 0 ? Uri.UnescapeDataString(detail.ToString()) : null,
                result.Error == ForwarderError.None ? unary : null);
        }
        finally
        {
            block.Dispose();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<H2RelayResult> SendAsync(HttpContext context, H2EndpointPool pool, ForwardingPlan plan, ReadOnlyMemory<byte> headerBlock, CancellationToken cancellationToken)
    {
        var hasBody = context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true;
        for (var attempt = 0; ; attempt++)
        {
            H2Connection connection;
            try
            {
                connection = await pool.AcquireAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
            {
                return Failed(context, context.RequestAborted.IsCancellationRequested ? ForwarderError.RequestCanceled : ForwarderError.RequestTimedOut, ex, 0, 0);
            }
            catch (Exception ex)
            {
                return Failed(context, ForwarderError.Request, ex, 0, 0);
            }

            var stream = new H2Stream(connection, context, connection.InlineCompletion);
            var error = await stream.RunAsync(headerBlock, hasBody, cancellationToken).ConfigureAwait(false);
            if (stream.DirectRequestBytes > 0)
            {
                Interlocked.Add(ref _directRequestBytes, stream.DirectRequestBytes); // not a shared write on every call
            }
            if (error == ForwarderError.None)
            {
                plan.ResponseCompleted = true;
                return new H2RelayResult(ForwarderError.None, stream.RequestBytes, stream.ResponseBytes);
            }

            // Refused before the next hop processed it (GOAWAY, REFUSED_STREAM), nothing of the caller's body taken:
            // send it again on another connection.
            if (stream.Retryable && attempt < 2 && stream.RequestBytes == 0 && !context.Response.HasStarted && !cancellationToken.IsCancellationRequested)
            {
                context.Response.Clear();
                continue;
            }

            if (error == ForwarderError.RequestCanceled && !context.RequestAborted.IsCancellationRequested)
            {
                error = ForwarderError.RequestTimedOut;
            }

            return Failed(context, error, stream.Failure, stream.RequestBytes, stream.ResponseBytes);
        }
    }

    private static H2RelayResult Failed(HttpContext context, ForwarderError error, Exception? exception, long requestBytes, long responseBytes)
    {
        context.Features.Set<IForwarderErrorFeature>(new RelayErrorFeature(error, exception ?? new IOException(error.ToString())));
        if (!context.Response.HasStarted)
        {
            // Nothing reached the caller yet: the gateway answers with its own error.
            context.Response.Clear();
            context.Response.StatusCode = error is ForwarderError.RequestTimedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway;
        }
        else if (context.Features.Get<IHttpResetFeature>() is { } reset)
        {
            // As YARP: a response that started must not look complete.
            reset.Reset(error is ForwarderError.ResponseBodyCanceled or ForwarderError.RequestBodyCanceled ? 2 : 8);
        }
        else
        {
            context.Abort();
        }

        return new H2RelayResult(error, requestBytes, responseBytes);
    }

    public void Dispose()
    {
        H2EndpointPool[] pools;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stopping.Cancel();
            if (_routes is not null)
            {
                _routes.Changed -= Retain;
            }

            pools = [.. _pools.Values, .. _retired];
            _pools.Clear();
            _retired.Clear();
        }

        foreach (var pool in pools)
        {
            pool.Dispose();
        }

        _stopping.Dispose();
    }

    private sealed class RelayErrorFeature(ForwarderError error, Exception exception) : IForwarderErrorFeature
    {
        public ForwarderError Error { get; } = error;

        public Exception? Exception { get; } = exception;
    }
}
