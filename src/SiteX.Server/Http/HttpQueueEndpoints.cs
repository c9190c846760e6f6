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
internal sealed class HttpQueueEndpoints(QueueCalls calls, IOptions<SiteXOptions> options, ILogger<HttpQueueEndpoints> logger)
{
    public const string PushPath = "/v1/interconn/chan/push";
    public const string PopPath = "/v1/interconn/chan/pop";
    public const string PeekPath = "/v1/interconn/chan/peek";
    public const string ReleasePath = "/v1/interconn/chan/release";

    private const long SmallBodyBytes = 1024 * 1024;

    /// <summary>Largest push body: the queue's largest message as base64 plus room for the other fields, and never more
    /// than <see cref="SiteXOptions.MaxLocalMessageBytes"/>.</summary>
    private long MaxPushBodyBytes => Math.Min(options.Value.MaxLocalMessageBytes, ((long)calls.Options.MaxMessageBytes + 2) / 3 * 4 + 64 * 1024);

    public async Task HandleAsync(HttpContext context, GatewayCall call)
    {
        var path = context.Request.Path.Value ?? "";
        var headers = context.Request.Headers;
        call.Uri = path;
        call.TraceId = Header(headers, PtpHeaders.TraceId);
        call.SessionId = Header(headers, PtpHeaders.SessionId);
        call.SourceParty = Header(headers, PtpHeaders.SourceNodeId) ?? Header(headers, PtpHeaders.FromNodeId) ?? Header(headers, PtpHeaders.SourceInstId);
        if (path is not (PushPath or PopPath or PeekPath or ReleasePath))
        {
            call.Action = "UNSUPPORTED";
            await RefuseAsync(context, call, StatusCodes.Status404NotFound, "not_found",
                $"SiteX gateway {calls.Self}: {Truncate(path)} is not served on this port (served: POST {PushPath}, {PopPath}, {PeekPath}, {ReleasePath})");
            return;
        }

        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await RefuseAsync(context, call, StatusCodes.Status405MethodNotAllowed, "method_not_allowed", $"SiteX gateway {calls.Self}: {path} takes POST, not {Truncate(context.Request.Method)}");
            return;
        }

        switch (path)
        {
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
        call.TargetParty = Header(context.Request.Headers, PtpHeaders.TargetNodeId) ?? Header(context.Request.Headers, PtpHeaders.TargetInstId);
        var body = await ReadAsync(context, call, ChanJsonContext.Default.ChanPushBody, MaxPushBodyBytes, allowEmpty: false);
        if (body is null)
        {
            return;
        }

        if (body.Payload is null)
        {
            await RefuseAsync(context, call, StatusCodes.Status400BadRequest, "invalid_request", $"SiteX gateway {calls.Self}: the push body has no \"payload\" (standard base64 of the message)");
            return;
        }

        call.Topic = string.IsNullOrEmpty(body.Topic) ? Header(context.Request.Headers, PtpHeaders.Topic) : body.Topic;
        if (!await CheckNamesAsync(context, call, requireTopic: true))
        {
            return;
        }

        if (call.TargetParty is null)
        {
            await RefuseAsync(context, call, StatusCodes.Status400BadRequest, "missing_header", $"SiteX gateway {calls.Self}: push needs header {PtpHeaders.TargetNodeId} (the party that pops the message)");
            return;
        }

        call.RequestBytes = body.Payload.Length;
        var push = new PushInbound { Topic = call.Topic!, Payload = UnsafeByteOperations.UnsafeWrap(body.Payload) };
        if (!string.IsNullOrEmpty(body.MsgCode))
        {
            push.Metadata["msgCode"] = body.MsgCode;
        }

        if (!string.IsNullOrEmpty(body.MsgFlag))
        {
            push.Metadata["msgFlag"] = body.MsgFlag;
        }

        var (code, message) = await calls.PushAsync(context, call, push);
        await ReplyAsync(context, call, code, message, payload: null);
    }

    private async Task PopAsync(HttpContext context, GatewayCall call)
    {
        var body = await ReadAsync(context, call, ChanJsonContext.Default.ChanPopBody, SmallBodyBytes, allowEmpty: false);
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
        var body = await ReadAsync(context, call, ChanJsonContext.Default.ChanTopicBody, SmallBodyBytes, allowEmpty: false);
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
        var body = await ReadAsync(context, call, ChanJsonContext.Default.ChanTopicBody, SmallBodyBytes, allowEmpty: true);
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

    /// <summary>Reads a JSON body as a stream under <paramref name="limit"/>; null (after answering 4xx) when it
    /// cannot be used. An empty body reads as <c>{}</c> when <paramref name="allowEmpty"/>.</summary>
    private async Task<T?> ReadAsync<T>(HttpContext context, GatewayCall call, JsonTypeInfo<T> type, long limit, bool allowEmpty)
        where T : class, new()
    {
        var what = context.Request.Path.Value;
        if (context.Request.ContentLength > limit)
        {
            await RefuseTooLargeAsync(context, call, limit);
            return null;
        }

        var stream = new LimitedReadStream(context.Request.Body, limit);
        try
        {
            var body = await JsonSerializer.DeserializeAsync(stream, type, context.RequestAborted);
            if (body is null)
            {
                await RefuseAsync(context, call, StatusCodes.Status400BadRequest, "malformed_json", $"SiteX gateway {calls.Self}: the body of {what} must be a JSON object, not null");
            }

            return body;
        }
        catch (BodyTooLargeException)
        {
            await RefuseTooLargeAsync(context, call, limit);
            return null;
        }
        catch (JsonException) when (allowEmpty && stream.BytesRead == 0)
        {
            return new T();
        }
        catch (JsonException ex)
        {
            var (error, problem) = Describe(ex, stream.BytesRead);
            await RefuseAsync(context, call, StatusCodes.Status400BadRequest, error, $"SiteX gateway {calls.Self}: the body of {what} {problem}");
            return null;
        }
    }

    private static (string Error, string Problem) Describe(JsonException ex, long bytesRead)
    {
        var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "" : $" at {ex.Path}";
        if (bytesRead == 0)
        {
            return ("malformed_json", "is empty; send a JSON object");
        }

        if (ex.Path == "$.payload" && ex.InnerException is FormatException)
        {
            return ("bad_base64", "has a \"payload\" that is not a standard base64 string");
        }

        if (ex.Message.Contains("could not be converted", StringComparison.Ordinal))
        {
            return ("wrong_type", $"has a field of the wrong type{where} (topic, msgCode, msgFlag: strings; payload: base64 string; timeout: integer milliseconds)");
        }

        return ("malformed_json", $"is not valid JSON{where} (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})");
    }

    private async Task<bool> CheckNamesAsync(HttpContext context, GatewayCall call, bool requireTopic)
    {
        if (calls.TryGetNames(call, calls.Self, requireTopic, out _, out var error))
        {
            return true;
        }

        var missingHeader = string.IsNullOrEmpty(call.SessionId);
        await RefuseAsync(context, call, StatusCodes.Status400BadRequest, missingHeader ? "missing_header" : "invalid_request", error);
        return false;
    }

    private Task RefuseTooLargeAsync(HttpContext context, GatewayCall call, long limit) =>
        RefuseAsync(context, call, StatusCodes.Status413PayloadTooLarge, "too_large",
            $"SiteX gateway {calls.Self}: the body of {context.Request.Path.Value} is larger than {limit} bytes (MaxLocalMessageBytes / Queues:MaxMessageBytes)");

    private Task RefuseAsync(HttpContext context, GatewayCall call, int status, string error, string message)
    {
        HttpLog.Refused(logger, context.Request.Method, context.Request.Path.Value ?? "", status, error, message, call.TraceId);
        call.StatusCode = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        call.ErrorMessage = message;
        if (status == StatusCodes.Status413PayloadTooLarge)
        {
            // The rest of the body is not read; the connection cannot be reused for another request.
            context.Response.Headers.Connection = "close";
        }

        return ChanJson.WriteErrorAsync(context, status, error, message);
    }

    private static Task ReplyAsync(HttpContext context, GatewayCall call, string code, string message, ReadOnlyMemory<byte>? payload)
    {
        call.StatusCode = code;
        if (code != PtpCodes.Success && code != PtpCodes.Timeout)
        {
            call.ErrorMessage = message;
        }

        return ChanJson.WriteReplyAsync(context, code, message, payload);
    }

    private static string? Header(IHeaderDictionary headers, string name)
    {
        var value = headers[name].ToString();
        return value.Length == 0 ? null : value;
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "...";
}
