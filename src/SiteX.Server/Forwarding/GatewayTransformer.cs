using System.Globalization;
using Microsoft.AspNetCore.Http;
using SiteX.Protocol;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding;

/// <summary>
/// Adjusts a forwarded request: the hop counter and via list (loop detection), the target headers the next gateway
/// routes by (when this gateway routed by a binding or a Packet), the remaining deadline, and the tech-provider code
/// a Java OSX next hop insists on. One shared instance: per-call data comes from the <see cref="ForwardingPlan"/>
/// feature.
/// </summary>
internal sealed class GatewayTransformer : HttpTransformer
{
    public static GatewayTransformer Instance { get; } = new();

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        var plan = httpContext.Features.Get<ForwardingPlan>()!;
        var headers = proxyRequest.Headers;

        headers.Remove(SiteXHeaders.Hops);
        headers.TryAddWithoutValidation(SiteXHeaders.Hops, (plan.Hops + 1).ToString(CultureInfo.InvariantCulture));
        headers.Remove(SiteXHeaders.Via);
        headers.TryAddWithoutValidation(SiteXHeaders.Via, plan.Via);

        if (plan.AddTargetHeaders)
        {
            headers.Remove(PtpHeaders.TargetNodeId);
            headers.TryAddWithoutValidation(PtpHeaders.TargetNodeId, plan.Call.TargetParty);
            headers.Remove(PtpHeaders.TargetComponentName);
            headers.TryAddWithoutValidation(PtpHeaders.TargetComponentName, plan.Call.Service);
        }

        if (plan.RequireTechProviderCode && !headers.Contains(PtpHeaders.TechProviderCode))
        {
            headers.TryAddWithoutValidation(PtpHeaders.TechProviderCode, "FATE");
        }

        if (plan.Deadline is { } deadline)
        {
            headers.Remove("grpc-timeout");
            headers.TryAddWithoutValidation("grpc-timeout", GrpcDeadline.Format(deadline - DateTime.UtcNow));
        }
    }
}

/// <summary>How one call is forwarded; set as a request feature for the transformer.</summary>
internal sealed class ForwardingPlan(GatewayCall call)
{
    public GatewayCall Call { get; } = call;

    public int Hops { get; init; }

    /// <summary>The via list including this gateway.</summary>
    public string Via { get; init; } = "";

    public bool AddTargetHeaders { get; init; }

    public bool RequireTechProviderCode { get; init; }

    public DateTime? Deadline { get; init; }
}
