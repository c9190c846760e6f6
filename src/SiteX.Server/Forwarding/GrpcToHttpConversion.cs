using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Packet = SiteX.Protocol.Eggroll.Proxy.Packet;
using SiteX.Protocol.Ptp;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Internal;
using SiteX.Server.Routing;

namespace SiteX.Server.Forwarding;

/// <summary>
/// gRPC calls whose next hop speaks only HTTP (a route whose endpoints are all <c>url</c>s): a PTP <c>invoke</c>
/// becomes an interconnection <c>/v1/interconn/chan/invoke</c> and its JSON reply an <c>Outbound</c>; a
/// <c>DataTransferService.unaryCall</c> Packet becomes an invoke with <c>x-ptp-uri: /org.fedai.osx.proxy/unary</c> and
/// the reply Packet is returned as the gRPC response. Both are unary, so the request is read whole, under
/// <see cref="SiteXOptions.MaxLocalMessageBytes"/>. Streams (<c>DataTransferService.push</c>) cannot cross an HTTP/1.1
/// hop and are refused by the forwarder, as in OSX.
/// </summary>
internal sealed class GrpcToHttpConversion(InvokeRelay invokes, PacketRelay packets, IOptions<SiteXOptions> options, ILogger<GrpcToHttpConversion> logger)
{
    public async Task InvokeOverHttpAsync(HttpContext context, GatewayCall call, RouteTable table)
    {
        var self = table.GatewayName;
        var request = await GrpcMessageReader.ReadAsync(context, Inbound.Parser, options.Value.MaxLocalMessageBytes);
        if (request.Message is not { } inbound)
        {
            await FailAsync(context, call, request.TooLarge ? GatewayError.TooLarge : GatewayError.BadRequest, $"SiteX gateway {self}: {request.Error}", ErrorStyle.PtpOutbound);
            return;
        }

        var uriPath = InvokeRelay.UriPath(call.Uri) ?? "";
        var reply = await invokes.SendAsync(context, call, table, new InvokeMessage(uriPath, inbound.Payload));
        if (reply.Error != GatewayError.None)
        {
            await FailAsync(context, call, reply.Error, reply.Message, ErrorStyle.PtpOutbound);
            return;
        }

        call.StatusCode = reply.Code;
        call.ErrorMessage = reply.Code == SiteX.Protocol.PtpCodes.Success ? null : reply.Message;
        await ErrorResponder.WriteGrpcMessageAsync(context, new Outbound { Code = reply.Code, Message = reply.Message, Payload = reply.Payload });
    }

    public async Task UnaryCallOverHttpAsync(HttpContext context, GatewayCall call, RouteTable table)
    {
        var self = table.GatewayName;
        var request = await GrpcMessageReader.ReadAsync(context, Packet.Parser, options.Value.MaxLocalMessageBytes);
        if (request.Message is not { } packet)
        {
            await FailAsync(context, call, request.TooLarge ? GatewayError.TooLarge : GatewayError.BadRequest, $"SiteX gateway {self}: {request.Error}", ErrorStyle.GrpcStatus);
            return;
        }

        call.RequestBytes = packet.CalculateSize();
        var reply = await packets.UnaryAsync(context, call, table, packet);
        if (reply.Packet is null)
        {
            await FailAsync(context, call, reply.Error, reply.Message, ErrorStyle.GrpcStatus);
            return;
        }

        call.ResponseBytes = reply.Packet.CalculateSize();
        await ErrorResponder.WriteGrpcMessageAsync(context, reply.Packet);
    }

    private Task FailAsync(HttpContext context, GatewayCall call, GatewayError error, string message, ErrorStyle style)
    {
        ForwardingLog.CallRejected(logger, context.Request.Path.Value ?? "", GatewayErrors.Name(error), message, call.TraceId);
        return ErrorResponder.WriteAsync(context, call, error, message, style);
    }
}
