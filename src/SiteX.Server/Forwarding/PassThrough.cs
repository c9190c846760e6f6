using Microsoft.AspNetCore.Http;
using SiteX.Protocol;
using SiteX.Server.Routing;

namespace SiteX.Server.Forwarding;

/// <summary>
/// Pass-through calls, on either port: any request that is not a PTP, queue or eggroll call (a gRPC service such as
/// FATE-Flow's, a REST service). Finds the target (party, service), checks it and hands the call to
/// <see cref="CallForwarder"/>. The gRPC port's generic calls and the HTTP port's forwarded requests both come here.
/// </summary>
/// <remarks>
/// The target is, in order:
/// <list type="number">
/// <item>the headers: party from <c>x-ptp-target-node-id</c>, <c>x-ptp-target-inst-id</c> or <c>dest-party-id</c>;
/// service from <c>x-ptp-target-component-name</c> or <c>service</c>, else <c>default</c>;</item>
/// <item>else a <c>service_bindings</c> entry: the gRPC service name of <c>/pkg.Service/Method</c> (gRPC port only),
/// then the longest matching path prefix. The forwarded request then carries the target headers, so that the next
/// gateway routes it by them.</item>
/// </list>
/// The call must then be allowed to reach that (party, service) by the table's permission rules.
/// </remarks>
internal sealed class PassThrough(CallForwarder forwarder)
{
    /// <summary>Finds, checks and forwards the call. Not async itself: every check is synchronous, so a call costs no
    /// state machine for this step, only the forwarder's.</summary>
    public Task ForwardAsync(HttpContext context, GatewayCall call, RouteTable table, ErrorStyle style, bool useGrpcBindings)
    {
        call.Action = "MSG_REDIRECT";
        var path = context.Request.Path.Value ?? "";
        var headers = context.Request.Headers;
        var target = CallHeaders.TargetParty(headers);
        var service = CallHeaders.TargetService(headers);
        var addTargetHeaders = false;
        if (target is null)
        {
            if ((useGrpcBindings && table.TryGetGrpcBinding(path, out var binding)) || table.TryGetPathBinding(path, out binding))
            {
                target = binding.Party;
                service ??= binding.Service;
                addTargetHeaders = true;
            }
            else
            {
                var bind = useGrpcBindings ? "its gRPC service or a path prefix" : "a path prefix";
                return forwarder.FailAsync(context, call, GatewayError.MissingTarget,
                    $"SiteX gateway {table.GatewayName}: {RouteTableParser.Truncate(path)} names no target party; send header {PtpHeaders.TargetNodeId} (and {PtpHeaders.TargetComponentName} for the service) or bind {bind} in the route table (service_bindings)", style);
            }
        }

        if (!CallForwarder.TryAcceptTarget(call, target, service, table.GatewayName, out var error, out var message)
            || !forwarder.TryAuthorize(context, call, table, target, call.Service, out error, out message))
        {
            return forwarder.FailAsync(context, call, error, message, style);
        }

        if (table.IsSelf(target))
        {
            call.Action = "FORWARD_LOCAL";
        }

        return forwarder.ForwardAsync(context, call, table, style, addTargetHeaders, requireTechProviderCode: false);
    }
}
