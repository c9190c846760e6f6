using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using SiteX.Protocol;
using Packet = SiteX.Protocol.Eggroll.Proxy.Packet;
using SiteX.Server.Queues;
using SiteX.Server.Routing;
using SiteX.Server.Security;

namespace SiteX.Server.Forwarding;

/// <summary>
/// An <c>invoke</c> addressed to a self party, arriving over gRPC or HTTP: dispatched on <c>x-ptp-uri</c> as OSX does.
/// A queue push (<c>/org.ppc.ptp.PrivateTransferTransport/push</c> or <c>/v1/interconn/chan/push</c>; payload a
/// serialized <c>PushInbound</c> or a JSON ProduceRequest) is stored; a unary Packet (<c>/org.fedai.osx.proxy/unary</c>
/// or the <c>DataTransferService/unaryCall</c> path; payload a serialized <c>Packet</c>) goes to the route of its
/// destination role and its reply Packet is the answer's payload. OSX takes Packets only over HTTP; SiteX takes both
/// encodings on both transports. <see cref="PingPath"/> answers a pong. Pop, peek and release are refused: they are
/// local operations. The push is checked against the permission rules as (self party, <c>queue</c>), the Packet as
/// (its destination party, its role).
/// </summary>
internal sealed class LocalInvoke(QueueCalls queues, PacketRelay packets, InterSiteGuard guard, PermissionGate permissions)
{
    /// <summary>SiteX's own uri: answers <c>E0000000000</c> "pong from &lt;party&gt;" and does nothing else, so
    /// <c>sitex check</c> can prove a round trip through a peer's gateway. A Java OSX answers it with code "".</summary>
    public const string PingPath = "/sitex/ping";

    public async Task<InvokeReply> DispatchAsync(HttpContext context, GatewayCall call, RouteTable table, string? uriPath, ByteString payload)
    {
        var self = table.GatewayName;
        if (uriPath == PingPath)
        {
            call.Action = "PING";
            return new InvokeReply(GatewayError.None, PtpCodes.Success, $"pong from {call.TargetParty ?? self}", ByteString.Empty);
        }

        if (InvokeRelay.IsPushUri(uriPath))
        {
            call.Action = "MSG_DOWNLOAD";
            if (!PushPayload.TryRead(payload.Memory, out var push, out var error))
            {
                return Refused($"SiteX gateway {self}: {error}");
            }

            call.Topic = string.IsNullOrEmpty(push.Topic) ? call.Topic : push.Topic;
            if (!queues.TryGetNames(call, self, requireTopic: true, out var session, out error))
            {
                return Refused(error);
            }

            if (!permissions.TryAuthorize(context, call, table, call.TargetParty!, PermissionGate.QueueService, out var denial, out var denied))
            {
                return InvokeReply.Failed(denial, denied);
            }

            call.RequestBytes = push.Payload.Length;
            var (code, message) = await queues.StoreAsync(session!, call.Topic!, push, context.RequestAborted);
            return new InvokeReply(GatewayError.None, code, message, ByteString.Empty);
        }

        if (uriPath is InvokeRelay.UnaryPath or PtpMethods.PacketUnaryCall)
        {
            call.Action = "UNARY_CALL";
            Packet packet;
            try
            {
                packet = Packet.Parser.ParseFrom(payload);
            }
            catch (InvalidProtocolBufferException)
            {
                return Refused($"SiteX gateway {self}: the invoke payload for {uriPath} is not a serialized Packet");
            }

            if (packet.Header is null)
            {
                return Refused($"SiteX gateway {self}: the Packet names no destination; set header.dst.partyId");
            }

            if (!PacketHeaderReader.TryRead(packet.Header, isPush: false, out var route, out var headerError))
            {
                return Refused($"SiteX gateway {self}: {headerError}");
            }

            var (party, role) = (route.Party, route.Role);

            if (string.IsNullOrEmpty(party))
            {
                return Refused($"SiteX gateway {self}: the Packet names no destination; set header.dst.partyId");
            }

            if (!RouteTableParser.IsValidId(party) || (!string.IsNullOrEmpty(role) && !RouteTableParser.IsValidId(role)))
            {
                return Refused($"SiteX gateway {self}: the Packet's destination \"{RouteTableParser.Truncate(party)}\" role \"{RouteTableParser.Truncate(role ?? "")}\" is not a valid party id and role");
            }

            if (call.Ingress == IngressKind.InterSite)
            {
                foreach (var (claimed, field) in route.ClaimedSources())
                {
                    if (!guard.IsAllowedSource(call, claimed))
                    {
                        return InvokeReply.Failed(GatewayError.IdentityMismatch, guard.ReportMismatch(context, call, claimed, field));
                    }
                }
            }

            call.TargetParty = party;
            call.Service = string.IsNullOrEmpty(role) ? RouteTableParser.DefaultKey : role;
            call.SourceParty = route.SourceParty ?? call.SourceParty;
            call.SourceService = route.SourceRole ?? call.SourceService;
            if (!permissions.TryAuthorize(context, call, table, party, call.Service, out var denial, out var denied))
            {
                return InvokeReply.Failed(denial, denied);
            }

            call.RequestBytes = payload.Length;
            var reply = await packets.UnaryAsync(context, call, table, packet);
            if (reply.Packet is null)
            {
                return InvokeReply.Failed(reply.Error, reply.Message);
            }

            var bytes = reply.Packet.ToByteString();
            call.ResponseBytes = bytes.Length;
            return new InvokeReply(GatewayError.None, PtpCodes.Success, "success", bytes);
        }

        call.Action = "UNARY_CALL";
        var why = uriPath is PtpMethods.Pop or PtpMethods.Peek or PtpMethods.Release
            ? "pop, peek and release are local operations and cannot be invoked by a peer"
            : $"it is not served here (supported: {PtpMethods.Push}, {InvokeRelay.UnaryPath}, {PingPath})";
        return Refused($"SiteX gateway {self}: x-ptp-uri \"{RouteTableParser.Truncate(uriPath ?? "")}\" cannot be invoked: {why}");
    }

    private static InvokeReply Refused(string message) => new(GatewayError.BadRequest, PtpCodes.InvalidRequest, message, ByteString.Empty);
}
