using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using SiteX.Protocol;
using Packet = SiteX.Protocol.Eggroll.Proxy.Packet;
using SiteX.Protocol.Ptp;
using SiteX.Server.Routing;

namespace SiteX.Server.Forwarding;

/// <summary>What a relayed <c>unaryCall</c> came back with: the reply Packet, or this gateway's error.</summary>
internal readonly record struct PacketReply(Packet? Packet, GatewayError Error, string Message);

/// <summary>
/// Sends a <c>DataTransferService.unaryCall</c> Packet that SiteX has read whole (because a hop on its way speaks
/// HTTP) to the route of its destination (party, role): over gRPC as <c>unaryCall</c>, or to a peer gateway's HTTP
/// url as an interconnection <c>invoke</c> with <c>x-ptp-uri: /org.fedai.osx.proxy/unary</c> and the serialized
/// Packet as payload, exactly as OSX sends it. The reply Packet comes back the same way.
/// </summary>
internal sealed class PacketRelay(InvokeRelay relay, NextHopClientPool clients)
{
    /// <summary>Relays <paramref name="packet"/>, whose destination is <see cref="GatewayCall.TargetParty"/> and
    /// role <see cref="GatewayCall.Service"/>.</summary>
    public async Task<PacketReply> UnaryAsync(HttpContext context, GatewayCall call, RouteTable table, Packet packet)
    {
        var self = table.GatewayName;
        var party = call.TargetParty!;
        if (!relay.TryResolve(context, call, table, party, call.Service, out var hop, out var failure))
        {
            return new PacketReply(null, failure.Error, failure.Message);
        }

        if (hop.Endpoint.Config.Protocol == EndpointProtocol.Http)
        {
            var message = new InvokeMessage(InvokeRelay.UnaryPath, packet.ToByteString()) { Target = party, Source = call.SourceParty };
            var reply = await relay.SendAsync(context, call, table, hop, message);
            if (reply.Error != GatewayError.None)
            {
                return new PacketReply(null, reply.Error, reply.Message);
            }

            if (reply.Code != PtpCodes.Success)
            {
                // The peer's own words: it is a gateway and chose what to tell its partners. Its routing verdicts keep
                // their status, as they do when a gRPC hop passes the peer's status through.
                var error = reply.Code switch
                {
                    PtpCodes.CycleRouteError => GatewayError.RoutingLoop,
                    PtpCodes.RouterError => GatewayError.NoRoute,
                    _ => GatewayError.NextHopFailed,
                };
                return new PacketReply(null, error, $"SiteX gateway {self}: the gateway of party {party} answered {reply.Code}: {reply.Message}");
            }

            try
            {
                return new PacketReply(Packet.Parser.ParseFrom(reply.Payload), GatewayError.None, "");
            }
            catch (Google.Protobuf.InvalidProtocolBufferException)
            {
                return new PacketReply(null, GatewayError.NextHopFailed, $"SiteX gateway {self}: the gateway of party {party} answered the unaryCall with a payload that is not a Packet");
            }
        }

        // A gRPC hop here is a service of this site (a Packet for a peer gateway is either forwarded as it came or,
        // to an HTTP peer, converted above): nothing to sign.
        var headers = new Grpc.Core.Metadata();
        foreach (var (name, value) in InvokeRelay.Headers(context.Request.Headers, new InvokeMessage(PtpMethods.PacketUnaryCall, ByteString.Empty), party, hop, overHttp: false))
        {
            if (name != PtpHeaders.Uri)
            {
                headers.Add(name, value);
            }
        }

        DateTime? deadline = GrpcDeadline.TryParse(context.Request.Headers["grpc-timeout"], out var timeout) ? DateTime.UtcNow + timeout : null;
        try
        {
            var client = new SiteX.Protocol.Eggroll.Proxy.DataTransferService.DataTransferServiceClient(clients.GetChannel(hop.Endpoint));
            var reply = await client.unaryCallAsync(packet, headers, deadline, context.RequestAborted);
            return new PacketReply(reply, GatewayError.None, "");
        }
        catch (RpcException ex)
        {
            var failed = relay.Failed(ex, self, party, hop.Endpoint, call.TraceId);
            return new PacketReply(null, failed.Error, failed.Message);
        }
    }
}
