using Microsoft.AspNetCore.Http;
using SiteX.Protocol;

namespace SiteX.Server.Forwarding;

/// <summary>
/// Reads the headers that describe a call (<c>x-ptp-*</c> and FATE-Flow's spellings) the same way on every port.
/// </summary>
internal static class CallHeaders
{
    /// <summary>The first value of <paramref name="name"/>, or null when it is absent or empty.</summary>
    public static string? Get(IHeaderDictionary headers, string name)
    {
        var value = headers[name];
        return value.Count == 0 || string.IsNullOrEmpty(value[0]) ? null : value[0];
    }

    /// <summary>Sets the call's trace id, session, topic, source party and service for logs, metrics, <c>src_site</c> rules
    /// and permissions. With no source header the source stays as set at ingress (on an inter-site port, the proven peer
    /// party).</summary>
    public static void Describe(GatewayCall call, IHeaderDictionary headers)
    {
        call.TraceId = Get(headers, PtpHeaders.TraceId);
        call.SessionId = Get(headers, PtpHeaders.SessionId);
        call.Topic = Get(headers, PtpHeaders.Topic);
        call.SourceParty = Get(headers, PtpHeaders.SourceNodeId) ?? Get(headers, PtpHeaders.FromNodeId)
            ?? Get(headers, PtpHeaders.SourceInstId) ?? Get(headers, PtpHeaders.FateSrcPartyId) ?? call.SourceParty;
        call.SourceService = SourceService(headers);
    }

    /// <summary>The calling service: <c>x-ptp-source-component-name</c> or FATE-Flow's <c>src-role</c>.</summary>
    public static string? SourceService(IHeaderDictionary headers) =>
        Get(headers, PtpHeaders.SourceComponentName) ?? Get(headers, PtpHeaders.FateSrcRole);

    /// <summary>The target party of a pass-through call: <c>x-ptp-target-node-id</c>, <c>x-ptp-target-inst-id</c> or
    /// FATE-Flow's <c>dest-party-id</c>.</summary>
    public static string? TargetParty(IHeaderDictionary headers) =>
        Get(headers, PtpHeaders.TargetNodeId) ?? Get(headers, PtpHeaders.TargetInstId) ?? Get(headers, PtpHeaders.FateDestPartyId);

    /// <summary>The target service of a pass-through call: <c>x-ptp-target-component-name</c> or FATE-Flow's <c>service</c>.</summary>
    public static string? TargetService(IHeaderDictionary headers) =>
        Get(headers, PtpHeaders.TargetComponentName) ?? Get(headers, PtpHeaders.FateService);
}
