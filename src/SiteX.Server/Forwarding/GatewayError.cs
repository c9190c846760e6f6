namespace SiteX.Server.Forwarding;

/// <summary>
/// Every failure SiteX raises itself while routing or forwarding. The numbers are stable (they appear in logs and
/// the error catalogue, <c>docs/errors.md</c>); never reuse or renumber one. Mapped to gRPC statuses, PTP codes and
/// HTTP statuses only in <see cref="GatewayErrors"/>.
/// </summary>
public enum GatewayError
{
    None = 0,
    /// <summary>The call names no target party (no header, no Packet destination, no binding).</summary>
    MissingTarget = 1,
    /// <summary>The route table has no entry for the party (nor a <c>default</c> party) or the service.</summary>
    NoRoute = 2,
    /// <summary>The call came back to a gateway it already visited, or passed too many gateways.</summary>
    RoutingLoop = 3,
    /// <summary>The next hop could not be connected to.</summary>
    NextHopUnreachable = 4,
    /// <summary>The call's deadline passed, or the next hop stayed silent past the idle timeout.</summary>
    NextHopTimeout = 5,
    /// <summary>The request is malformed (a broken Packet, a bad header value).</summary>
    BadRequest = 6,
    /// <summary>The caller cancelled the call.</summary>
    Canceled = 7,
    /// <summary>The call is understood but not served here (an unknown <c>x-ptp-uri</c>, an unimplemented method).</summary>
    Unsupported = 8,
    /// <summary>The next hop failed after the call started (connection reset mid-stream).</summary>
    NextHopFailed = 9,
    /// <summary>A message exceeds a configured limit.</summary>
    TooLarge = 10,
    /// <summary>An unexpected fault inside this gateway (a bug); details stay in the local log.</summary>
    Internal = 11,
    /// <summary>A call on an inter-site port claims a source party (a header, a Packet's source) other than the party
    /// its client certificate proves, and that party is not a trusted relay.</summary>
    IdentityMismatch = 12,
    /// <summary>A local operation (queue pop, peek, release; router administration) was called on an inter-site port.</summary>
    LocalOnly = 13,
    /// <summary>The route table's <c>permission</c> rules do not let the calling (party, service) reach the target
    /// (party, service).</summary>
    PermissionDenied = 14,
    /// <summary>A call on an inter-site port carries a credential that was refused (a request token that is expired,
    /// replayed, badly signed or does not match its body), or no proof of its party where one is required.</summary>
    Unauthenticated = 15,
}
