using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using SiteX.Server.Forwarding;
using SiteX.Server.Routing;

namespace SiteX.Server.Queues;

/// <summary>
/// Sends a push whose target party is remote to the next gateway as OSX does: an <c>invoke</c> with
/// <c>x-ptp-uri</c> set to the push uri and the caller's <c>x-ptp-*</c> headers, its payload the serialized
/// <c>PushInbound</c> over gRPC or the JSON ProduceRequest over HTTP (<see cref="InvokeRelay"/>), so that SiteX and
/// Java OSX peers both store it. The reply's code and message go back to the pusher.
/// </summary>
internal sealed class PushRelay(InvokeRelay relay)
{
    /// <summary>Whether a relayed push's bytes may still be read after the relay returned (they must then stay out of
    /// the buffer pool).</summary>
    public bool ReadsPayloadAfterReturn => relay.ReadsPayloadAfterReturn;

    public async Task<(string Code, string Message)> RelayAsync(HttpContext context, GatewayCall call, RouteTable table, PushMessage push)
    {
        call.ToPeerGateway = true;
        var reply = await relay.SendAsync(context, call, table, new InvokeMessage(PtpMethods.Push, push.ToRelayedByteString(relay.ReadsPayloadAfterReturn)));
        return (reply.Code, reply.Message);
    }
}
