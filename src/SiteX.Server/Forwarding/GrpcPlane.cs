using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Server.Configuration;
using SiteX.Server.Queues;
using SiteX.Server.Routing;
using SiteX.Server.Security;

namespace SiteX.Server.Forwarding;

/// <summary>
/// The intra-site gRPC port: works out each call's target and hands it to <see cref="CallForwarder"/>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>PrivateTransferProtocol/invoke</c>: target from <c>x-ptp-target-node-id</c>; relayed as is to a
/// remote party's gateway (service <c>default</c>, as OSX does); errors come back as an <c>Outbound</c> code.</item>
/// <item><c>DataTransferService/unaryCall</c> and <c>push</c>: target from the first Packet's header
/// (<c>RollSiteHeader.dstPartyId</c> or <c>dst.partyId</c>), service from its role.</item>
/// <item>Any other method, and plain HTTP/2 requests: <see cref="PassThrough"/> (target from headers, else from a
/// gRPC service or path-prefix binding in the route table).</item>
/// </list>
/// </remarks>
internal sealed class GrpcPlane
{
    private readonly RouteTableManager _routes;
    private readonly CallForwarder _forwarder;
    private readonly PassThrough _passThrough;
    private readonly PtpQueueEndpoints _queues;
    private readonly GrpcToHttpConversion _conversion;
    private readonly SiteXOptions _options;
    private readonly InterSiteGuard _guard;

    public GrpcPlane(RouteTableManager routes, CallForwarder forwarder, PassThrough passThrough, PtpQueueEndpoints queues, GrpcToHttpConversion conversion, InterSiteGuard guard, IOptions<SiteXOptions> options)
    {
        _guard = guard;
        _routes = routes;
        _forwarder = forwarder;
        _passThrough = passThrough;
        _queues = queues;
        _conversion = conversion;
        _options = options.Value;
    }

    /// <summary>Dispatches a call by its method. Not async itself: it hands back the handler's task, so a call costs no
    /// state machine for this step.</summary>
    public Task HandleAsync(HttpContext context, GatewayCall call)
    {
        var table = _routes.Current;
        var path = context.Request.Path.Value ?? "";
        var headers = context.Request.Headers;
        call.Uri = path;
        CallHeaders.Describe(call, headers);
        var self = table.GatewayName;

        switch (path)
        {
            case PtpMethods.Invoke:
                return HandleInvokeAsync(context, call, table, self);
            case PtpMethods.PacketUnaryCall:
            case PtpMethods.PacketPush:
                return HandlePacketAsync(context, call, table, self, isPush: path == PtpMethods.PacketPush);
            case PtpMethods.Push:
                call.TargetParty = Header(headers, PtpHeaders.TargetNodeId) ?? Header(headers, PtpHeaders.TargetInstId);
                return _queues.PushAsync(context, call);
            case PtpMethods.Pop:
                return _queues.PopAsync(context, call, peek: false);
            case PtpMethods.Peek:
                return _queues.PopAsync(context, call, peek: true);
            case PtpMethods.Release:
                return _queues.ReleaseAsync(context, call);
            case PtpMethods.Transport:
            case PtpMethods.PacketPull:
            case PtpMethods.PacketPolling:
                call.Action = "UNSUPPORTED";
                return _forwarder.FailAsync(context, call, GatewayError.Unsupported, $"SiteX gateway {self}: {path} is not served by this gateway", ErrorStyle.GrpcStatus);
        }

        // Pass-through of any other method (a plain HTTP/2 request too: one forwarded by a peer's HTTP port).
        return _passThrough.ForwardAsync(context, call, table, ErrorResponder.StyleFor(context, path), useGrpcBindings: true);
    }

    private async Task HandleInvokeAsync(HttpContext context, GatewayCall call, RouteTable table, string self)
    {
        call.Action = "MSG_REDIRECT";
        var headers = context.Request.Headers;
        var target = Header(headers, PtpHeaders.TargetNodeId) ?? Header(headers, PtpHeaders.TargetInstId);
        call.Uri = Header(headers, PtpHeaders.Uri) ?? call.Uri;
        if (target is null)
        {
            await _forwarder.FailAsync(context, call, GatewayError.MissingTarget,
                $"SiteX gateway {self}: invoke needs header {PtpHeaders.TargetNodeId} (the destination party)", ErrorStyle.PtpOutbound);
            return;
        }

        if (!await AcceptTargetAsync(context, call, target, RouteTableParser.DefaultKey, self, ErrorStyle.PtpOutbound))
        {
            return;
        }

        if (table.IsSelf(target))
        {
            // Permissions are checked on what the invoke carries: its push or its Packet (LocalInvoke).
            await _queues.InvokeLocalAsync(context, call, table);
            return;
        }

        if (!await _forwarder.AuthorizeAsync(context, call, table, target, PermissionGate.InvokeService(InvokeRelay.UriPath(call.Uri)), ErrorStyle.PtpOutbound))
        {
            return;
        }

        if (RoutesOverHttp(table, call))
        {
            await _conversion.InvokeOverHttpAsync(context, call, table);
            return;
        }

        await _forwarder.ForwardAsync(context, call, table, ErrorStyle.PtpOutbound, addTargetHeaders: false, requireTechProviderCode: true);
    }

    private async Task HandlePacketAsync(HttpContext context, GatewayCall call, RouteTable table, string self, bool isPush)
    {
        call.Action = isPush ? "PUSH_REMOTE" : "UNARY_CALL";
        var peek = await PacketHeaderReader.PeekAsync(context.Request.BodyReader, _options.MaxPacketHeaderBytes, context.RequestAborted);
        if (peek.Error != GatewayError.None)
        {
            await _forwarder.FailAsync(context, call, peek.Error, $"SiteX gateway {self}: {peek.Message}", ErrorStyle.GrpcStatus);
            return;
        }

        if (!PacketHeaderReader.TryRead(peek.Header!, isPush, out var route, out var error))
        {
            await _forwarder.FailAsync(context, call, GatewayError.BadRequest, $"SiteX gateway {self}: {error}", ErrorStyle.GrpcStatus);
            return;
        }

        if (call.Ingress == IngressKind.InterSite)
        {
            foreach (var (claimed, field) in route.ClaimedSources())
            {
                if (!_guard.IsAllowedSource(call, claimed))
                {
                    await _guard.RejectSourceAsync(context, call, claimed, field, ErrorStyle.GrpcStatus);
                    return;
                }
            }
        }

        var (party, role) = (route.Party, route.Role);
        call.SourceParty = route.SourceParty ?? call.SourceParty;
        call.SourceService = route.SourceRole ?? call.SourceService;
        if (string.IsNullOrEmpty(party))
        {
            await _forwarder.FailAsync(context, call, GatewayError.MissingTarget,
                $"SiteX gateway {self}: the Packet names no destination; set header.dst.partyId (or dstPartyId in the RollSiteHeader)", ErrorStyle.GrpcStatus);
            return;
        }

        if (!await AcceptTargetAsync(context, call, party, string.IsNullOrEmpty(role) ? null : role, self, ErrorStyle.GrpcStatus)
            || !await _forwarder.AuthorizeAsync(context, call, table, party, call.Service, ErrorStyle.GrpcStatus))
        {
            return;
        }

        if (!isPush && RoutesOverHttp(table, call))
        {
            await _conversion.UnaryCallOverHttpAsync(context, call, table);
            return;
        }

        await _forwarder.ForwardAsync(context, call, table, ErrorStyle.GrpcStatus, addTargetHeaders: false, requireTechProviderCode: false);
    }

    /// <summary>True when every endpoint of the call's route is an HTTP url: the call must be converted to the
    /// interconnection protocol instead of passed through (mixed routes pass through, and the forwarder refuses the
    /// HTTP endpoints it picks).</summary>
    private static bool RoutesOverHttp(RouteTable table, GatewayCall call) =>
        table.TryLookup(call.TargetParty!, call.Service, call.SourceParty, out var match) && match.Group.AllHttp;

    private ValueTask<bool> AcceptTargetAsync(HttpContext context, GatewayCall call, string target, string? service, string self, ErrorStyle style) =>
        _forwarder.AcceptTargetAsync(context, call, target, service, self, style);

    private static string? Header(IHeaderDictionary headers, string name) => CallHeaders.Get(headers, name);
}
