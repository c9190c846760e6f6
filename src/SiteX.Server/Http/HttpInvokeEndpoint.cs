using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Server.Configuration;
using SiteX.Server.Forwarding;
using SiteX.Server.Routing;

namespace SiteX.Server.Http;

/// <summary>
/// <c>POST /v1/interconn/chan/invoke</c>: <c>{"payload": base64}</c> with <c>x-ptp-uri</c> and
/// <c>x-ptp-target-node-id</c>. For a self party the uri is dispatched here (<see cref="LocalInvoke"/>: a queue push,
/// or a unary Packet to a local service); for any other party the invoke is relayed to its gateway over gRPC or HTTP
/// (<see cref="InvokeRelay"/>), with every <c>x-ptp-*</c> header. The answer is HTTP 200 with
/// <c>{"code","message","payload"?}</c>, as OSX answers; an envelope that cannot be read (malformed JSON, bad base64,
/// a missing header, a body over <see cref="SiteXOptions.MaxLocalMessageBytes"/>) gets a 4xx JSON error instead.
/// </summary>
internal sealed class HttpInvokeEndpoint(RouteTableManager routes, ChanRequests requests, LocalInvoke local, InvokeRelay relay, PermissionGate permissions, IOptions<SiteXOptions> options)
{
    public async Task HandleAsync(HttpContext context, GatewayCall call)
    {
        var table = routes.Current;
        var self = table.GatewayName;
        var headers = context.Request.Headers;
        call.Action = "MSG_REDIRECT";
        call.TargetParty = CallHeaders.Get(headers, PtpHeaders.TargetNodeId) ?? CallHeaders.Get(headers, PtpHeaders.TargetInstId);
        call.Topic = CallHeaders.Get(headers, PtpHeaders.Topic);
        var uri = CallHeaders.Get(headers, PtpHeaders.Uri);
        if (uri is null)
        {
            await requests.RefuseAsync(context, call, StatusCodes.Status400BadRequest, "missing_header",
                $"SiteX gateway {self}: invoke needs header {PtpHeaders.Uri} (what to invoke, e.g. {PtpMethods.Push} or {InvokeRelay.UnaryPath})");
            return;
        }

        call.Uri = uri;
        if (call.TargetParty is null)
        {
            await requests.RefuseAsync(context, call, StatusCodes.Status400BadRequest, "missing_header", $"SiteX gateway {self}: invoke needs header {PtpHeaders.TargetNodeId} (the destination party)");
            return;
        }

        if (!RouteTableParser.IsValidId(call.TargetParty))
        {
            call.TargetParty = RouteTableParser.Truncate(call.TargetParty);
            await requests.RefuseAsync(context, call, StatusCodes.Status400BadRequest, "invalid_request",
                $"SiteX gateway {self}: \"{call.TargetParty}\" is not a valid party id (1-128 letters, digits, '.', '_' or '-')");
            return;
        }

        var uriPath = InvokeRelay.UriPath(uri);
        var isSelf = table.IsSelf(call.TargetParty);
        if (!isSelf && !permissions.TryAuthorize(context, call, table, call.TargetParty, PermissionGate.InvokeService(uriPath), out var denial, out var denialMessage))
        {
            // Refused before the body is read: nothing of the call is relayed. (A self-party invoke is checked on what
            // it carries, by LocalInvoke.)
            await WriteReplyAsync(context, call, InvokeReply.Failed(denial, denialMessage));
            return;
        }

        var body = await requests.ReadAsync(context, call, self, ChanJsonContext.Default.ChanInvokeBody, options.Value.MaxLocalMessageBytes, allowEmpty: false);
        if (body is null)
        {
            return;
        }

        if (body.Payload is null)
        {
            await requests.RefuseAsync(context, call, StatusCodes.Status400BadRequest, "invalid_request", $"SiteX gateway {self}: the invoke body has no \"payload\" (standard base64 of the invoked message)");
            return;
        }

        var payload = UnsafeByteOperations.UnsafeWrap(body.Payload);
        var reply = isSelf
            ? await local.DispatchAsync(context, call, table, uriPath, payload)
            : await relay.SendAsync(context, call, table, new InvokeMessage(uriPath ?? "", payload));
        if (reply.Error == GatewayError.Canceled && context.RequestAborted.IsCancellationRequested)
        {
            call.Error = GatewayError.Canceled;
            return;
        }

        await WriteReplyAsync(context, call, reply);
    }

    private static async Task WriteReplyAsync(HttpContext context, GatewayCall call, InvokeReply reply)
    {
        if (reply.Error != GatewayError.None)
        {
            call.Error = reply.Error;
            context.Response.Headers[SiteXHeaders.Error] = GatewayErrors.Name(reply.Error);
        }

        call.StatusCode = reply.Code;
        call.ErrorMessage = reply.Code == PtpCodes.Success ? null : reply.Message;
        await ChanJson.WriteReplyAsync(context, reply.Code, reply.Message, reply.Payload.IsEmpty ? (ReadOnlyMemory<byte>?)null : reply.Payload.Memory, messageField: "message");
    }
}
