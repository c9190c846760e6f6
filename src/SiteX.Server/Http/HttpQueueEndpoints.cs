using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using SiteX.Server.Configuration;
using SiteX.Server.Forwarding;
using SiteX.Server.Queues;

namespace SiteX.Server.Http;

/// <summary>
/// The interconnection standard's queue endpoints on the HTTP/1.1 port: <c>POST /v1/interconn/chan/{push,pop,peek,release}</c>
/// with JSON bodies (bytes as standard base64) and <c>x-ptp-*</c> headers. Queue outcomes are HTTP 200 with OSX's
/// <c>code</c> in the body, exactly as on the gRPC port (<see cref="QueueCalls"/>); requests that cannot be read
/// (malformed JSON, bad base64, a missing header, a body over the limit) get a 4xx JSON error and store nothing.
/// </summary>
internal sealed class HttpQueueEndpoints(QueueCalls calls, ChanRequests requests, HttpInvokeEndpoint invoke, IOptions<SiteXOptions> options)
{
    public const string PushPath = "/v1/interconn/chan/push";
    public const string PopPath = "/v1/interconn/chan/pop";
    public const string PeekPath = "/v1/interconn/chan/peek";
    public const string ReleasePath = "/v1/interconn/chan/release";
    public const string InvokePath = InterconnClient.InvokePath;

    private const long SmallBodyBytes = 1024 * 1024;

    /// <summary>Largest push body: the queue's largest message as base64 plus room for the other fields, and never more
    /// than <see cref="SiteXOptions.MaxLocalMessageBytes"/>.</summary>
    private long MaxPushBodyBytes => Math.Min(options.Value.MaxLocalMessageBytes, ((long)calls.Options.MaxMessageBytes + 2) / 3 * 4 + 64 * 1024);

    public async Task HandleAsync(HttpContext context, GatewayCall call)
    {
        var path = context.Request.Path.Value ?? "";
        var headers = context.Request.Headers;
        call.Uri = path;
        call.TraceId = CallHeaders.Get(headers, PtpHeaders.TraceId);
        call.SessionId = CallHeaders.Get(headers, PtpHeaders.SessionId);
        call.SourceParty = CallHeaders.Get(headers, PtpHeaders.SourceNodeId) ?? CallHeaders.Get(headers, PtpHeaders.FromNodeId) ?? CallHeaders.Get(headers, PtpHeaders.SourceInstId) ?? call.SourceParty;
        call.SourceService = CallHeaders.SourceService(headers);
        if (path is not (PushPath or PopPath or PeekPath or ReleasePath or InvokePath))
        {
            call.Action = "UNSUPPORTED";
            await requests.RefuseAsync(context, call, StatusCodes.Status404NotFound, "not_found",
                $"SiteX gateway {calls.Self}: {Truncate(path)} is not served on this port (served: POST {InvokePath}, {PushPath}, {PopPath}, {PeekPath}, {ReleasePath})");
            return;
        }

        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await requests.RefuseAsync(context, call, StatusCodes.Status405MethodNotAllowed, "method_not_allowed", $"SiteX gateway {calls.Self}: {path} takes POST, not {Truncate(context.Request.Method)}");
            return;
        }

        switch (path)
        {
            case InvokePath:
                await invoke.HandleAsync(context, call);
                return;
            case PushPath:
                await PushAsync(context, call);
                return;
            case PopPath:
                await PopAsync(context, call);
                return;
            case PeekPath:
                await PeekAsync(context, call);
                return;
            default:
                await ReleaseAsync(context, call);
                return;
        }
    }

    private async Task PushAsync(HttpContext context, GatewayCall call)
    {
        call.TargetParty = CallHeaders.Get(context.Request.Headers, PtpHeaders.TargetNodeId) ?? CallHeaders.Get(context.Request.Headers, PtpHeaders.TargetInstId);
        var body = await requests.ReadAsync(context, call, calls.Self, ChanJsonContext.Default.ChanPushBody, MaxPushBodyBytes, allowEmpty: false);
        if (body is null)
        {
            return;
        }

        if (body.Payload is null)
        {
            await requests.RefuseAsync(context, call, StatusCodes.Status400BadRequest, "invalid_request", $"SiteX gateway {calls.Self}: the push body has no \"payload\" (standard base64 of the message)");
            return;
        }

        call.Topic = string.IsNullOrEmpty(body.Topic) ? CallHeaders.Get(context.Request.Headers, PtpHeaders.Topic) : body.Topic;
        if (!await CheckNamesAsync(context, call, requireTopic: true))
        {
            return;
        }

        if (call.TargetParty is null)
        {
            await requests.RefuseAsync(context, call, StatusCodes.Status400BadRequest, "missing_header", $"SiteX gateway {calls.Self}: push needs header {PtpHeaders.TargetNodeId} (the party that pops the message)");
            return;
        }

        call.RequestBytes = body.Payload.Length;
        body.Topic = call.Topic;
        var push = PushPayload.FromJson(body);
        var (code, message) = await calls.PushAsync(context, call, push);
        await ReplyAsync(context, call, code, message, payload: null);
    }

    private async Task PopAsync(HttpContext context, GatewayCall call)
    {
        var body = await requests.ReadAsync(context, call, calls.Self, ChanJsonContext.Default.ChanPopBody, SmallBodyBytes, allowEmpty: false);
        if (body is null)
        {
            return;
        }

        call.Topic = string.IsNullOrEmpty(body.Topic) ? null : body.Topic;
        if (!await CheckNamesAsync(context, call, requireTopic: true))
        {
            return;
        }

        var timeout = body.Timeout is > 0 ? TimeSpan.FromMilliseconds(Math.Min(body.Timeout.Value, (long)int.MaxValue * 1000)) : TimeSpan.Zero;
        var answer = await calls.PopAsync(call, call.SessionId!, timeout, context.RequestAborted);
        if (answer.Lease is { } lease)
        {
            // The message counts as delivered only once the whole response was handed to the connection.
            await calls.DeliverAsync(context, call, lease, async (code, message, payload) =>
            {
                await ReplyAsync(context, call, code, message, code == PtpCodes.Success ? payload : null);
                await context.Response.CompleteAsync();
            });
            return;
        }

        if (!answer.Canceled)
        {
            await ReplyAsync(context, call, answer.Code, answer.Message, payload: null);
        }
    }

    private async Task PeekAsync(HttpContext context, GatewayCall call)
    {
        var body = await requests.ReadAsync(context, call, calls.Self, ChanJsonContext.Default.ChanTopicBody, SmallBodyBytes, allowEmpty: false);
        if (body is null)
        {
            return;
        }

        call.Topic = string.IsNullOrEmpty(body.Topic) ? null : body.Topic;
        if (!await CheckNamesAsync(context, call, requireTopic: true))
        {
            return;
        }

        var payload = await calls.PeekAsync(call, call.SessionId!, context.RequestAborted);
        await ReplyAsync(context, call, PtpCodes.Success, "", payload);
    }

    private async Task ReleaseAsync(HttpContext context, GatewayCall call)
    {
        call.Action = "CANCEL_TOPIC";
        var body = await requests.ReadAsync(context, call, calls.Self, ChanJsonContext.Default.ChanTopicBody, SmallBodyBytes, allowEmpty: true);
        if (body is null)
        {
            return;
        }

        call.Topic = string.IsNullOrEmpty(body.Topic) ? null : body.Topic;
        if (!await CheckNamesAsync(context, call, requireTopic: false))
        {
            return;
        }

        await calls.ReleaseAsync(call, call.SessionId!, context.RequestAborted);
        call.StatusCode = PtpCodes.Success;
        await ChanJson.WriteReplyAsync(context, PtpCodes.Success, "success", payload: null, messageField: "message");
    }

    private async Task<bool> CheckNamesAsync(HttpContext context, GatewayCall call, bool requireTopic)
    {
        if (calls.TryGetNames(call, calls.Self, requireTopic, out _, out var error))
        {
            return true;
        }

        var missingHeader = string.IsNullOrEmpty(call.SessionId);
        await requests.RefuseAsync(context, call, StatusCodes.Status400BadRequest, missingHeader ? "missing_header" : "invalid_request", error);
        return false;
    }

    private static Task ReplyAsync(HttpContext context, GatewayCall call, string code, string message, ReadOnlyMemory<byte>? payload)
    {
        if (call.Error != GatewayError.None && !context.Response.HasStarted)
        {
            context.Response.Headers[SiteXHeaders.Error] = GatewayErrors.Name(call.Error);
        }

        call.StatusCode = code;
        if (code != PtpCodes.Success && code != PtpCodes.Timeout)
        {
            call.ErrorMessage = message;
        }

        return ChanJson.WriteReplyAsync(context, code, message, payload);
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "...";
}
