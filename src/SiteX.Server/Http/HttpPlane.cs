using Microsoft.AspNetCore.Http;
using SiteX.Server.Forwarding;
using SiteX.Server.Routing;

namespace SiteX.Server.Http;

/// <summary>
/// The HTTP/1.1 port's dispatcher. The interconnection endpoints (<c>/v1/interconn/chan/...</c>) are served here by
/// <see cref="HttpQueueEndpoints"/>; every other request is a plain HTTP call for a service at some party, forwarded by
/// <see cref="PassThrough"/> with its method, path, query, headers (minus hop-by-hop ones) and body streamed both ways.
/// </summary>
/// <remarks>
/// The target is named by <c>x-ptp-target-node-id</c> (and <c>x-ptp-target-component-name</c> for the service) or by a
/// <c>path_prefix</c> binding. SiteX's own failures are answered as JSON (<see cref="ErrorStyle.Json"/>) with the
/// status from <see cref="GatewayErrors.ToHttpStatus"/>; the service's own statuses pass through unchanged.
/// </remarks>
internal sealed class HttpPlane(RouteTableManager routes, HttpQueueEndpoints interconnect, PassThrough passThrough)
{
    /// <summary>Paths under this prefix are the interconnection endpoints, served by this gateway itself.</summary>
    public const string InterconnectPrefix = "/v1/interconn/chan/";

    public Task HandleAsync(HttpContext context, GatewayCall call)
    {
        var path = context.Request.Path.Value ?? "";
        if (path.StartsWith(InterconnectPrefix, StringComparison.Ordinal))
        {
            return interconnect.HandleAsync(context, call);
        }

        call.Uri = path;
        CallHeaders.Describe(call, context.Request.Headers);
        return passThrough.ForwardAsync(context, call, routes.Current, ErrorStyle.Json, useGrpcBindings: false);
    }
}
