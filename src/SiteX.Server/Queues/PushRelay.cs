using System.Globalization;
using Grpc.Core;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using SiteX.Server.Configuration;
using SiteX.Server.Forwarding;
using SiteX.Server.Routing;

namespace SiteX.Server.Queues;

/// <summary>
/// Sends a push whose target party is remote to the next gateway as OSX does: <c>PrivateTransferProtocol/invoke</c>
/// with <c>Inbound{payload = the serialized PushInbound}</c>, the caller's <c>x-ptp-*</c> headers and
/// <c>x-ptp-uri: grpcs://fedai.org/org.ppc.ptp.PrivateTransferTransport/push</c>, so that SiteX and Java OSX peers
/// both store it. The reply's code and message go back to the pusher.
/// </summary>
internal sealed class PushRelay(NextHopClientPool clients, GatewayIdentity identity, IOptions<SiteXOptions> options, ILogger<PushRelay> logger)
{
    private static readonly string[] s_copiedHeaders =
    [
        PtpHeaders.Version, PtpHeaders.TraceId, PtpHeaders.Token, PtpHeaders.SourceNodeId, PtpHeaders.FromNodeId,
        PtpHeaders.SourceInstId, PtpHeaders.TargetNodeId, PtpHeaders.TargetInstId, PtpHeaders.SessionId, PtpHeaders.Topic,
        PtpHeaders.QueueType, PtpHeaders.MessageFlag, PtpHeaders.JobId,
    ];

    public async Task<(string Code, string Message)> RelayAsync(HttpContext context, GatewayCall call, RouteTable table, PushInbound push)
    {
        var self = table.GatewayName;
        var target = call.TargetParty!;
        var request = context.Request.Headers;
        var via = request[SiteXHeaders.Via].ToString();
        _ = int.TryParse(request[SiteXHeaders.Hops], NumberStyles.None, CultureInfo.InvariantCulture, out var hops);
        if ((via.Length > 0 && identity.IsIn(via)) || hops >= options.Value.MaxHops)
        {
            return (PtpCodes.CycleRouteError, $"SiteX gateway {self}: routing loop for party {target}: the push came back after {CallForwarder.DescribeVia(via)}");
        }

        if (!table.TryLookup(target, RouteTableParser.DefaultKey, call.SourceParty, out var match))
        {
            return (PtpCodes.RouterError, $"SiteX gateway {self}: no route to party {target}; add party \"{target}\" (or a \"default\" party) to the route table");
        }

        var endpoint = match.Group.Pick();
        call.Endpoint = endpoint;
        call.ToPeerGateway = true;
        if (endpoint.Config.Protocol == EndpointProtocol.Http)
        {
            return (PtpCodes.InvalidRequest, $"SiteX gateway {self}: the route to party {target} is an HTTP endpoint, which queue pushes cannot use yet; route it to the peer's gRPC port");
        }

        var headers = new Grpc.Core.Metadata();
        foreach (var name in s_copiedHeaders)
        {
            var value = request[name].ToString();
            if (value.Length > 0)
            {
                headers.Add(name, value);
            }
        }

        if (request[PtpHeaders.SourceNodeId].Count == 0 && request[PtpHeaders.FromNodeId].ToString() is { Length: > 0 } from)
        {
            headers.Add(PtpHeaders.SourceNodeId, from); // a Java OSX reads only this spelling
        }

        var tech = request[PtpHeaders.TechProviderCode].ToString();
        headers.Add(PtpHeaders.TechProviderCode, tech.Length > 0 ? tech : "FATE");
        headers.Add(PtpHeaders.Uri, PtpMethods.OsxPushUri);
        headers.Add(SiteXHeaders.Hops, (hops + 1).ToString(CultureInfo.InvariantCulture));
        headers.Add(SiteXHeaders.Via, via.Length == 0 ? identity.ViaEntry(self) : $"{via},{identity.ViaEntry(self)}");
        DateTime? deadline = GrpcDeadline.TryParse(request["grpc-timeout"], out var timeout) ? DateTime.UtcNow + timeout : null;

        try
        {
            var client = new PrivateTransferProtocol.PrivateTransferProtocolClient(clients.GetChannel(endpoint));
            var reply = await client.invokeAsync(new Inbound { Payload = push.ToByteString() }, headers, deadline, context.RequestAborted);
            return (reply.Code, reply.Message);
        }
        catch (RpcException ex)
        {
            QueueEndpointLog.RelayFailed(logger, target, endpoint.Display, ex.StatusCode.ToString(), ex.Status.Detail, call.TraceId);
            var what = ex.StatusCode switch
            {
                StatusCode.Unavailable => "is unreachable",
                StatusCode.DeadlineExceeded => "did not answer before the deadline",
                StatusCode.Cancelled => "call was cancelled",
                _ => $"failed ({ex.StatusCode})",
            };
            return (PtpCodes.NetError, $"SiteX gateway {self}: the next gateway for party {target} {what}");
        }
    }
}
