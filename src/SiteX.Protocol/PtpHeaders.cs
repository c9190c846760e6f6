namespace SiteX.Protocol;

/// <summary>
/// HTTP/2 (gRPC metadata) and HTTP/1.1 header names of the PTP protocol, as OSX and FATE clients send them.
/// All lower-case: gRPC metadata keys are case-insensitive and sent lower-case on HTTP/2.
/// </summary>
public static class PtpHeaders
{
    public const string Version = "x-ptp-version";
    public const string TechProviderCode = "x-ptp-tech-provider-code";
    public const string TraceId = "x-ptp-trace-id";
    public const string Token = "x-ptp-token";
    public const string SourceNodeId = "x-ptp-source-node-id";
    /// <summary>FATE's python MQChannel and FATE-Flow's BFIA headers use this spelling of the source node.</summary>
    public const string FromNodeId = "x-ptp-from-node-id";
    public const string TargetNodeId = "x-ptp-target-node-id";
    public const string SourceInstId = "x-ptp-source-inst-id";
    public const string TargetInstId = "x-ptp-target-inst-id";
    public const string SessionId = "x-ptp-session-id";
    public const string Uri = "x-ptp-uri";
    public const string Topic = "x-ptp-topic";
    public const string SourceComponentName = "x-ptp-source-component-name";
    public const string TargetComponentName = "x-ptp-target-component-name";
    public const string JobId = "x-ptp-job-id";
    public const string QueueType = "fate-queue-type";
    public const string MessageFlag = "fate-message-flag";

    /// <summary>FATE-Flow's gRPC metadata: the destination party (ignored by OSX, honoured by SiteX).</summary>
    public const string FateDestPartyId = "dest-party-id";
    /// <summary>FATE-Flow's gRPC metadata: the source party.</summary>
    public const string FateSrcPartyId = "src-party-id";
    /// <summary>FATE-Flow's gRPC metadata: the source role (e.g. <c>guest</c>).</summary>
    public const string FateSrcRole = "src-role";
    /// <summary>FATE-Flow's gRPC metadata: the destination service.</summary>
    public const string FateService = "service";
}

/// <summary>Headers SiteX adds between its own gateways. Unknown to OSX, which ignores them.</summary>
public static class SiteXHeaders
{
    /// <summary>Number of gateways a request has passed through so far.</summary>
    public const string Hops = "x-sitex-hops";
    /// <summary>Comma-separated gateway ids (party/instance) the request has visited, oldest first.</summary>
    public const string Via = "x-sitex-via";
    /// <summary>Set on errors SiteX raises itself: the stable error name from the catalogue.</summary>
    public const string Error = "x-sitex-error";
}
