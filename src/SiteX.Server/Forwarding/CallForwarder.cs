using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Forwarding.H2;
using SiteX.Server.Internal;
using SiteX.Server.Routing;
using SiteX.Server.Security;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding;

/// <summary>
/// Routes a call whose target (party, service) is known and streams it to the next hop.
/// </summary>
/// <remarks>
/// The flow for every call:
/// <list type="number">
/// <item>Loop check: the call's <c>x-sitex-via</c> must not name this gateway, and it must have passed fewer
/// than <see cref="SiteXOptions.MaxHops"/> gateways.</item>
/// <item>Route lookup in the current table (party, else <c>default</c> party; service, else <c>default</c>).</item>
/// <item>Pick an endpoint, take the pooled client for it, and hand the call to YARP's forwarder, which streams
/// request and response bodies both ways without buffering whole messages and copies trailers. A gRPC endpoint
/// (a peer gateway's h2c port, a gRPC service) gets HTTP/2; an HTTP <c>url</c> endpoint gets HTTP/1.1 (<c>https</c>
/// may negotiate HTTP/2), and only plain HTTP requests may use one (<see cref="CanUseHttpEndpoint"/>).</item>
/// <item>Map a forwarding failure to a <see cref="GatewayError"/> and answer the caller in its own style.</item>
/// </list>
/// </remarks>
internal sealed class CallForwarder
{
    private readonly IHttpForwarder _forwarder;
    private readonly NextHopClientPool _clients;
    private readonly H2Relay _relay;
    private readonly GatewayIdentity _identity;
    private readonly SiteXOptions _options;
    private readonly ILogger<CallForwarder> _logger;
    private readonly PermissionGate _permissions;
    private readonly RequestTokens _tokens;
    private readonly ForwarderRequestConfig _http2;
    private readonly ForwarderRequestConfig _http11;
    private readonly ForwarderRequestConfig _http11OrHigher;

    public CallForwarder(IHttpForwarder forwarder, NextHopClientPool clients, H2Relay relay, GatewayIdentity identity, PermissionGate permissions, RequestTokens tokens, IOptions<SiteXOptions> options, ILogger<CallForwarder> logger)
    {
        _relay = relay;
        _tokens = tokens;
        _forwarder = forwarder;
        _permissions = permissions;
        _clients = clients;
        _identity = identity;
        _options = options.Value;
        _logger = logger;
        // gRPC endpoints: HTTP/2 only (a cleartext peer port is h2c, which any other version would break).
        _http2 = new ForwarderRequestConfig
        {
            ActivityTimeout = _options.IdleTimeout,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            AllowResponseBuffering = false,
        };

        // http:// URL endpoints: HTTP/1.1 (a cleartext connection cannot negotiate anything else).
        _http11 = _http2 with { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower };

        // https:// URL endpoints: HTTP/1.1, or HTTP/2 when the server offers it in ALPN.
        _http11OrHigher = _http2 with { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionOrHigher };
    }

    /// <summary>
    /// Checks a call's target party and service (from a header, a Packet or a binding) before it is routed. False,
    /// after answering the caller with <see cref="GatewayError.BadRequest"/>, when either is not a valid id.
    /// </summary>
    public async ValueTask<bool> AcceptTargetAsync(HttpContext context, GatewayCall call, string target, string? service, string self, ErrorStyle style)
    {
        if (TryAcceptTarget(call, target, service, self, out var error, out var message))
        {
            return true;
        }

        await FailAsync(context, call, error, message, style);
        return false;
    }

    /// <summary>Sets and checks the call's target party and service; false, with the error to answer, when either is
    /// not a valid id.</summary>
    public static bool TryAcceptTarget(GatewayCall call, string target, string? service, string self, out GatewayError error, out string message)
    {
        (error, message) = (GatewayError.None, "");
        call.TargetParty = target;
        if (!RouteTableParser.IsValidId(target))
        {
            call.TargetParty = RouteTableParser.Truncate(target);
            (error, message) = (GatewayError.BadRequest, $"SiteX gateway {self}: \"{call.TargetParty}\" is not a valid party id (1-128 letters, digits, '.', '_' or '-')");
            return false;
        }

        call.Service = service ?? RouteTableParser.DefaultKey;
        if (!RouteTableParser.IsValidId(call.Service))
        {
            var shown = RouteTableParser.Truncate(call.Service);
            call.Service = "invalid";
            (error, message) = (GatewayError.BadRequest, $"SiteX gateway {self}: \"{shown}\" is not a valid service name (1-128 letters, digits, '.', '_' or '-')");
            return false;
        }

        return true;
    }

    /// <summary>
    /// Applies the route table's permission rules to the call for (<paramref name="toParty"/>, <paramref name="toService"/>)
    /// (<see cref="PermissionGate"/>). False, after answering the caller with <see cref="GatewayError.PermissionDenied"/>
    /// (or <see cref="GatewayError.BadRequest"/> for a claimed source that is not a party id), when it may not.
    /// </summary>
    public async ValueTask<bool> AuthorizeAsync(HttpContext context, GatewayCall call, RouteTable table, string toParty, string toService, ErrorStyle style)
    {
        if (TryAuthorize(context, call, table, toParty, toService, out var error, out var message))
        {
            return true;
        }

        await FailAsync(context, call, error, message, style);
        return false;
    }

    /// <summary>The permission check of <see cref="AuthorizeAsync"/>, without answering the caller.</summary>
    public bool TryAuthorize(HttpContext context, GatewayCall call, RouteTable table, string toParty, string toService, out GatewayError error, out string message) =>
        _permissions.TryAuthorize(context, call, table, toParty, toService, out error, out message);

    /// <summary>
    /// Whether a call may go to an HTTP (<c>url</c>) endpoint. Plain HTTP requests may: they are forwarded as they
    /// are. gRPC calls may not: an HTTP/1.1 service or an interconnection <c>invoke</c> URL cannot carry gRPC framing
    /// and trailers, so they are refused with <see cref="GatewayError.Unsupported"/>.
    /// </summary>
    /// <remarks>The seam for calls converted before forwarding: a PTP <c>invoke</c>/<c>unaryCall</c> rewritten to
    /// the interconnection JSON (<c>POST /v1/interconn/chan/invoke</c>) is no longer gRPC and passes this check.</remarks>
    internal static bool CanUseHttpEndpoint(HttpRequest request) => !ErrorResponder.IsGrpc(request.ContentType);

    /// <summary>Routes and forwards the call described by <paramref name="call"/> (target and service set).</summary>
    public async Task ForwardAsync(HttpContext context, GatewayCall call, RouteTable table, ErrorStyle style, bool addTargetHeaders, bool requireTechProviderCode)
    {
        var self = table.GatewayName;
        var target = call.TargetParty!;

        // 1. Loops: a call that already passed this gateway, or too many gateways, stops here.
        var headers = context.Request.Headers;
        var loop = _identity.CheckLoop(headers, self);
        var (hops, via) = (loop.Hops, loop.Via);
        if (loop.Verdict == LoopVerdict.BadHops)
        {
            await FailAsync(context, call, GatewayError.BadRequest, $"SiteX gateway {self}: header {SiteXHeaders.Hops} is not a number", style);
            return;
        }

        if (loop.Verdict == LoopVerdict.CameBack)
        {
            await FailAsync(context, call, GatewayError.RoutingLoop,
                $"SiteX gateway {self}: routing loop for party {target} service {call.Service}: the call came back to this gateway after {DescribeVia(via)}; check the routes for party {target} at these gateways", style);
            return;
        }

        if (loop.Verdict == LoopVerdict.TooManyHops)
        {
            await FailAsync(context, call, GatewayError.RoutingLoop,
                $"SiteX gateway {self}: the call for party {target} service {call.Service} passed {hops} gateways ({DescribeVia(via)}), the limit is {_options.MaxHops}; check for a routing loop", style);
            return;
        }

        // 2. Route.
        if (!table.TryLookup(target, call.Service, call.SourceParty, out var match))
        {
            await FailAsync(context, call, GatewayError.NoRoute,
                $"SiteX gateway {self}: no route to party {target} service {call.Service}; add party \"{target}\" (or a \"default\" party) to the route table", style);
            return;
        }

        var endpoint = match.Group.Pick();
        call.Endpoint = endpoint;
        call.ToPeerGateway = match.Group.IsPeerGateway;
        if (endpoint.Config.Protocol == EndpointProtocol.Http && !CanUseHttpEndpoint(context.Request))
        {
            await FailAsync(context, call, GatewayError.Unsupported,
                $"SiteX gateway {self}: the route for party {target} service {call.Service} is an HTTP endpoint, which this call ({context.Request.Path}) cannot use; route it to a gRPC endpoint", style);
            return;
        }

        // 3. Forward, with the caller's deadline enforced here too.
        DateTime? deadline = null;
        CancellationTokenSource? deadlineSource = null;
        if (GrpcDeadline.TryParse(headers["grpc-timeout"], out var timeout))
        {
            deadline = DateTime.UtcNow + timeout;
            deadlineSource = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            deadlineSource.CancelAfter(timeout);
        }

        var plan = new ForwardingPlan(call)
        {
            Hops = hops,
            Via = loop.NextVia,
            AddTargetHeaders = addTargetHeaders,
            RequireTechProviderCode = requireTechProviderCode,
            Deadline = deadline,
            Signer = _tokens.SignerFor(match.Group, endpoint, match.Group.IsPeerGateway) is { } peer ? new TokenSigner(_tokens, peer, self) : null,
        };
        context.Features.Set(plan);

        if (style == ErrorStyle.GrpcStatus && context.Features.Get<IHttpResetFeature>() is { } resetFeature)
        {
            context.Features.Set<IHttpResetFeature>(new DeferredResetFeature(resetFeature));
        }

        ForwarderError result;
        using (deadlineSource)
        {
            var token = deadlineSource?.Token ?? context.RequestAborted;
            result = endpoint.Config.Protocol == EndpointProtocol.Grpc && _options.ForwardingEngine == ForwardingEngine.H2Relay
                ? await RelayAsync(context, call, endpoint, plan, token)
                : await SendWithYarpAsync(context, call, endpoint, token);
        }

        if (result == ForwarderError.None)
        {
            return;
        }

        // A request-body error that races with a finished response (the next hop answered without reading the whole
        // request, e.g. a rejection) is not a failure: the next hop's whole response, final status included, is
        // already on its way.
        if (result is ForwarderError.RequestBodyCanceled or ForwarderError.RequestBodyClient or ForwarderError.RequestBodyDestination
            && !context.RequestAborted.IsCancellationRequested && (plan.ResponseCompleted || HasFinalGrpcStatus(context)))
        {
            return;
        }

        // 4. Failure: classify, log locally with details, answer the caller with a safe message.
        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        var deadlinePassed = deadline is not null && DateTime.UtcNow >= deadline && !context.RequestAborted.IsCancellationRequested;
        var error = Classify(result, exception, deadlinePassed, context.RequestAborted.IsCancellationRequested);
        var hop = call.ToPeerGateway ? $"the next gateway for party {target}" : $"service {call.Service} of party {target}";
        var tls = error == GatewayError.NextHopUnreachable ? NextHopTlsException.Find(exception) : null;
        if (tls is not null)
        {
            OutboundTlsLog.HandshakeFailed(_logger, target, tls.Message, call.TraceId);
        }

        var message = error switch
        {
            GatewayError.NextHopUnreachable when tls is not null => $"SiteX gateway {self}: TLS handshake with {hop} failed: {tls.SafeReason}",
            GatewayError.NextHopUnreachable => $"SiteX gateway {self}: {hop} is unreachable",
            GatewayError.NextHopTimeout => deadlinePassed
                ? $"SiteX gateway {self}: deadline exceeded waiting for {hop}"
                : $"SiteX gateway {self}: {hop} was idle for longer than {_options.IdleTimeout}",
            GatewayError.Canceled => $"SiteX gateway {self}: the call to {hop} was cancelled by the caller",
            _ => $"SiteX gateway {self}: {hop} failed during the call",
        };
        ForwardingLog.ForwardFailed(_logger, context.Request.Path.Value ?? "", target, call.Service, GatewayErrors.Name(error), message, endpoint.Display, call.TraceId,
            error == GatewayError.NextHopFailed ? exception : null); // expected failures need no stack trace
        await ErrorResponder.WriteAsync(context, call, error, message, style);
    }

    /// <summary>Step 3 with YARP: the request and response bodies pass through counting streams.</summary>
    private async Task<ForwarderError> SendWithYarpAsync(HttpContext context, GatewayCall call, RouteDestination endpoint, CancellationToken cancellationToken)
    {
        // Count body bytes for metrics and the access log. Installed only now: the Packet header was peeked through
        // the request's own pipe, which a replaced Body would no longer see.
        var requestBody = new CountingStream(context.Request.Body, isRequest: true);
        var responseBody = new CountingStream(context.Response.Body, isRequest: false, context.RequestAborted);
        context.Request.Body = requestBody;
        context.Response.Body = responseBody;
        try
        {
            return await _forwarder.SendAsync(context, endpoint.ForwardPrefix, _clients.Get(endpoint), RequestConfigFor(endpoint), GatewayTransformer.Instance, cancellationToken);
        }
        finally
        {
            call.RequestBytes = requestBody.Count;
            call.ResponseBytes = responseBody.Count;
        }
    }

    /// <summary>Step 3 with the HTTP/2 relay (<see cref="H2Relay"/>), which counts the body bytes itself.</summary>
    private async Task<ForwarderError> RelayAsync(HttpContext context, GatewayCall call, RouteDestination endpoint, ForwardingPlan plan, CancellationToken cancellationToken)
    {
        var relayed = await _relay.ForwardAsync(context, endpoint, plan, cancellationToken);
        call.RequestBytes = relayed.RequestBytes;
        call.ResponseBytes = relayed.ResponseBytes;
        return relayed.Error;
    }

    private ForwarderRequestConfig RequestConfigFor(RouteDestination endpoint) =>
        endpoint.Config.Protocol == EndpointProtocol.Grpc ? _http2
        : endpoint.IsHttps ? _http11OrHigher
        : _http11;

    private static bool HasFinalGrpcStatus(HttpContext context) =>
        context.Response.Headers.ContainsKey("grpc-status")
        || context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers.ContainsKey("grpc-status") == true;

    public Task FailAsync(HttpContext context, GatewayCall call, GatewayError error, string message, ErrorStyle style)
    {
        ForwardingLog.CallRejected(_logger, context.Request.Path.Value ?? "", GatewayErrors.Name(error), message, call.TraceId);
        return ErrorResponder.WriteAsync(context, call, error, message, style);
    }

    internal static GatewayError Classify(ForwarderError result, Exception? exception, bool deadlinePassed, bool callerAborted)
    {
        if (deadlinePassed)
        {
            return GatewayError.NextHopTimeout;
        }

        if (callerAborted)
        {
            return GatewayError.Canceled;
        }

        return result switch
        {
            ForwarderError.RequestTimedOut => GatewayError.NextHopTimeout,
            ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled
                or ForwarderError.RequestBodyClient or ForwarderError.ResponseBodyClient => GatewayError.Canceled,
            ForwarderError.Request when IsConnectFailure(exception) => GatewayError.NextHopUnreachable,
            _ => GatewayError.NextHopFailed,
        };
    }

    private static bool IsConnectFailure(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError })
            {
                return true;
            }

            if (e is SocketException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>"9999 -> 10000" from a via list of "party#instance" entries; instance ids stay private.</summary>
    internal static string DescribeVia(string via)
    {
        if (via.Length == 0)
        {
            return "no other gateway";
        }

        return string.Join(" -> ", via.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('#')[0]));
    }
}
