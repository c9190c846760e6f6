using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using SiteX.Server.Diagnostics;
using SiteX.Server.Forwarding;
using SiteX.Server.Http;
using SiteX.Server.Security;

namespace SiteX.Server.Hosting;

/// <summary>
/// Wraps every call on a data plane: sets the <see cref="IGatewayRequestFeature"/>, catches anything unexpected (the
/// caller gets a generic error, the details stay in the local log), then records metrics and the access log line.
/// </summary>
/// <remarks>The inter-site TLS ports serve the same planes; their calls are first admitted by
/// <see cref="InterSiteGuard"/> (peer party proven, claimed source checked, local operations refused).</remarks>
internal sealed class CallPipeline
{
    private readonly InterSiteGuard _guard;
    private readonly GatewayMetrics _metrics;
    private readonly AccessLog _accessLog;
    private readonly ILogger<CallPipeline> _logger;

    // The planes and their last-resort error answers, as delegates made once (not one allocation per call).
    private readonly Func<HttpContext, GatewayCall, Task> _httpPlane;
    private readonly Func<HttpContext, GatewayCall, Task> _grpcPlane;
    private readonly Func<HttpContext, GatewayCall, Exception, Task> _httpUnexpected;
    private readonly Func<HttpContext, GatewayCall, Exception, Task> _grpcUnexpected;

    public CallPipeline(GrpcPlane grpcPlane, HttpPlane httpPlane, InterSiteGuard guard, GatewayMetrics metrics, AccessLog accessLog, ILogger<CallPipeline> logger)
    {
        _guard = guard;
        _metrics = metrics;
        _accessLog = accessLog;
        _logger = logger;
        _httpPlane = httpPlane.HandleAsync;
        _grpcPlane = grpcPlane.HandleAsync;
        _httpUnexpected = HttpUnexpectedAsync;
        _grpcUnexpected = GrpcUnexpectedAsync;
    }

    /// <summary>A call on the HTTP/1.1 port (interconnection endpoints and forwarded HTTP requests).</summary>
    public Task HandleHttpAsync(HttpContext context) => RunAsync(context, "HTTP", interSite: false, _httpPlane, _httpUnexpected);

    /// <summary>A call on the inter-site HTTPS port: the HTTP plane, for a proven peer.</summary>
    public Task HandleHttpsAsync(HttpContext context) => RunAsync(context, "HTTP", interSite: true, _httpPlane, _httpUnexpected);

    /// <summary>A call on the intra-site gRPC port.</summary>
    public Task HandleGrpcAsync(HttpContext context) => RunAsync(context, "GRPC", interSite: false, _grpcPlane, _grpcUnexpected);

    /// <summary>A call on the inter-site TLS gRPC port: the gRPC plane, for a proven peer.</summary>
    public Task HandleGrpcTlsAsync(HttpContext context) => RunAsync(context, "GRPC", interSite: true, _grpcPlane, _grpcUnexpected);

    private async Task HttpUnexpectedAsync(HttpContext context, GatewayCall call, Exception ex)
    {
        HttpLog.Unexpected(_logger, context.Request.Path.Value ?? "", call.TraceId, ex);
        if (!context.Response.HasStarted)
        {
            call.StatusCode = "500";
            await ChanJson.WriteErrorAsync(context, StatusCodes.Status500InternalServerError, "internal", "SiteX gateway: internal error; the gateway's log has the details", SiteX.Protocol.PtpCodes.SystemError);
        }
    }

    private Task GrpcUnexpectedAsync(HttpContext context, GatewayCall call, Exception ex)
    {
        ForwardingLog.Unexpected(_logger, context.Request.Path.Value ?? "", call.TraceId, ex);
        return ErrorResponder.WriteAsync(context, call, GatewayError.Internal, "SiteX gateway: internal error; the gateway's log has the details", ErrorResponder.StyleFor(context, context.Request.Path.Value ?? ""));
    }

    private async Task RunAsync(HttpContext context, string protocol, bool interSite, Func<HttpContext, GatewayCall, Task> handle, Func<HttpContext, GatewayCall, Exception, Task> unexpected)
    {
        var call = new GatewayCall(protocol, "MSG_REDIRECT");
        context.Features.Set<IGatewayRequestFeature>(call);
        _metrics.CallStarted();
        try
        {
            if (interSite && !await _guard.AdmitAsync(context, call))
            {
                return;
            }

            await handle(context, call);
        }
        catch (Exception ex) when (context.RequestAborted.IsCancellationRequested)
        {
            call.Error = GatewayError.Canceled;
            ForwardingLog.CallerAborted(_logger, context.Request.Path.Value ?? "", ex);
        }
        catch (Exception ex)
        {
            await unexpected(context, call, ex);
        }
        finally
        {
            call.StatusCode ??= FinalStatus(context);
            _metrics.CallEnded(call);
            _accessLog.Write(call);
        }
    }

    /// <summary>The gRPC status from trailers (or a trailers-only response), else the HTTP status.</summary>
    private static string FinalStatus(HttpContext context)
    {
        var trailers = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers;
        if (trailers is not null && trailers.TryGetValue("grpc-status", out var status) && status.Count > 0)
        {
            return status[0]!;
        }

        if (context.Response.Headers.TryGetValue("grpc-status", out status) && status.Count > 0)
        {
            return status[0]!;
        }

        return context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
