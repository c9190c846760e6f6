using System.Diagnostics;
using SiteX.Server.Routing;

namespace SiteX.Server.Forwarding;

/// <summary>What SiteX knows about one call, set once at ingress and read by forwarding, metrics and the access
/// log. A typed feature, never <c>HttpContext.Items</c> string keys.</summary>
public interface IGatewayRequestFeature
{
    GatewayCall Call { get; }
}

/// <summary>Per-call state. One instance per request; not thread-safe beyond the request's own flow.</summary>
public sealed class GatewayCall : IGatewayRequestFeature
{
    public GatewayCall(string protocol, string action)
    {
        Protocol = protocol;
        Action = action;
        StartTimestamp = Stopwatch.GetTimestamp();
    }

    GatewayCall IGatewayRequestFeature.Call => this;

    /// <summary>Ingress kind for the access log: <c>GRPC</c>, <c>HTTP</c>.</summary>
    public string Protocol { get; }

    /// <summary>OSX action type: <c>MSG_REDIRECT</c>, <c>UNARY_CALL</c>, <c>PUSH_REMOTE</c>, ...</summary>
    public string Action { get; set; }

    public long StartTimestamp { get; }

    public string? TargetParty { get; set; }

    /// <summary>Where the call came in: an intra-site port (local services) or an inter-site TLS port (peer gateways).</summary>
    public IngressKind Ingress { get; set; }

    /// <summary>The calling party as proven by its client certificate or a verified token; null when nothing proved
    /// it (intra-site ports). Never taken from a header.</summary>
    public string? PeerParty { get; set; }

    /// <summary>How <see cref="PeerParty"/> was proven.</summary>
    public PeerProof PeerProof { get; set; }

    public string? SourceParty { get; set; }

    /// <summary>The calling service as claimed (<c>x-ptp-source-component-name</c>, <c>src-role</c> or a Packet's
    /// <c>src.role</c>), for permission rules; null when the call names none.</summary>
    public string? SourceService { get; set; }

    public string Service { get; set; } = "default";

    public string? Uri { get; set; }

    public string? SessionId { get; set; }

    public string? Topic { get; set; }

    public string? TraceId { get; set; }

    public RouteDestination? Endpoint { get; set; }

    /// <summary>True when the next hop is another gateway, false when it is the final service.</summary>
    public bool ToPeerGateway { get; set; }

    public GatewayError Error { get; set; }

    /// <summary>The message of a SiteX error (safe to show the caller), or the upstream's status message.</summary>
    public string? ErrorMessage { get; set; }

    /// <summary>Final status: a gRPC status code number, a PTP code, or an HTTP status, as text.</summary>
    public string? StatusCode { get; set; }

    public long RequestBytes { get; set; }

    public long ResponseBytes { get; set; }

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(StartTimestamp);
}

/// <summary>Kind of port a call arrived on.</summary>
public enum IngressKind
{
    /// <summary>A plain intra-site port (gRPC h2c or HTTP/1.1) for the site's own services.</summary>
    Intra = 0,
    /// <summary>An inter-site TLS port for peer gateways.</summary>
    InterSite = 1,
}

/// <summary>What proved a call's <see cref="GatewayCall.PeerParty"/>.</summary>
public enum PeerProof
{
    None = 0,
    /// <summary>The client certificate of the TLS connection.</summary>
    Certificate = 1,
    /// <summary>A signed request token checked against the peer's key.</summary>
    Token = 2,
}
