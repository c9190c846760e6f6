using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using SiteX.Server.Configuration;
using SiteX.Server.Forwarding;
using SiteX.Server.Internal;
using SiteX.Server.Routing;

namespace SiteX.Server.Queues;

/// <summary>
/// <c>PrivateTransferTransport</c> push, pop, peek and release on the intra-site port, and the local dispatch of a
/// self-party <c>PrivateTransferProtocol/invoke</c> (a queue push relayed by a peer gateway).
/// </summary>
/// <remarks>
/// Answers are <c>TransportOutbound</c>/<c>Outbound</c> with OSX's string codes; the gRPC status is OK unless the
/// request itself is unreadable. A pop's message counts as consumed only after its response has been flushed to the
/// caller.
/// </remarks>
internal sealed class PtpQueueEndpoints
{
    private readonly QueueCalls _calls;
    private readonly SiteXOptions _options;
    private readonly ILogger<PtpQueueEndpoints> _logger;
    private readonly LocalInvoke _localInvoke;

    public PtpQueueEndpoints(QueueCalls calls, LocalInvoke localInvoke, IOptions<SiteXOptions> options, ILogger<PtpQueueEndpoints> logger)
    {
        _calls = calls;
        _localInvoke = localInvoke;
        _options = options.Value;
        _logger = logger;
    }

    private long MaxRequestBytes => (long)_options.Queues.MaxMessageBytes + 64 * 1024;

    public async Task PushAsync(HttpContext context, GatewayCall call)
    {
        // The push is kept as it arrived (see PushView): relayed without serializing it again, stored without copying
        // its payload out of it. Stored here, or relayed over the HTTP/2 relay, its bytes can go back to the pool
        // afterwards (the store and the relay are done with them when the push returns); relayed through
        // Grpc.Net.Client (YARP's engine), they stay with the call (the client may still be sending them when the next
        // gateway's answer ends the call), so they get an array of their own size, and one from the pool is kept out
        // of it should a route change make such a relay of a push that was to be stored (PushMessage).
        var request = await GrpcMessageReader.ReadBytesAsync(context, MaxRequestBytes, nameof(PushInbound), pooled: _calls.MayPoolPush(call.TargetParty));
        using var bytes = request.Message;
        PushMessage push = default;
        var error = request.Error;
        if (bytes is not null)
        {
            if (PushView.TryRead(bytes.Memory.Span, out var view))
            {
                push = PushMessage.FromSerialized(bytes.Memory, view, bytes);
            }
            else if (TryParse(PushInbound.Parser, bytes.Memory, out error) is { } parsed)
            {
                push = parsed;
            }
        }

        if (error is not null)
        {
            await FailAsync(context, call, request.TooLarge ? PtpCodes.PutMessageError : PtpCodes.InvalidRequest, $"SiteX gateway {_calls.Self}: {error}");
            return;
        }

        call.Topic = string.IsNullOrEmpty(push.Topic) ? call.Topic : push.Topic;
        var (code, message) = await _calls.PushAsync(context, call, push);
        if (code == PtpCodes.InvalidRequest)
        {
            QueueEndpointLog.Refused(_logger, context.Request.Path.Value ?? "", code, message, call.TraceId);
        }

        await WriteAsync(context, call, new TransportOutbound { Code = code, Message = message });
    }

    /// <summary>A message the plain readers (<see cref="PushView"/>, <see cref="InboundView"/>) left to the generated
    /// parser.</summary>
    private static T? TryParse<T>(MessageParser<T> parser, ReadOnlyMemory<byte> bytes, out string? error)
        where T : class, IMessage<T>
    {
        try
        {
            error = null;
            return parser.ParseFrom(bytes.Span);
        }
        catch (InvalidProtocolBufferException)
        {
            error = $"the request is not a valid {typeof(T).Name} message";
            return null;
        }
    }

    /// <summary>A self-party <c>invoke</c> over gRPC: dispatched on <c>x-ptp-uri</c> by <see cref="LocalInvoke"/>.</summary>
    public async Task InvokeLocalAsync(HttpContext context, GatewayCall call, RouteTable table)
    {
        var self = table.GatewayName;

        // The payload is taken from the bytes as they arrived (InboundView); nothing keeps it once the dispatch has
        // returned (a push is stored by then, a Packet parsed), so the bytes go back to the pool.
        var request = await GrpcMessageReader.ReadBytesAsync(context, MaxRequestBytes, nameof(Inbound), pooled: true);
        using var bytes = request.Message;
        ByteString? payload = null;
        var error = request.Error;
        if (bytes is not null)
        {
            if (InboundView.TryReadPayload(bytes.Memory.Span, out var offset, out var length))
            {
                payload = UnsafeByteOperations.UnsafeWrap(bytes.Memory.Slice(offset, length));
            }
            else
            {
                payload = TryParse(Inbound.Parser, bytes.Memory, out error)?.Payload;
            }
        }

        if (payload is null)
        {
            await FailOutboundAsync(context, call, request.TooLarge ? PtpCodes.PutMessageError : PtpCodes.InvalidRequest, $"SiteX gateway {self}: {error}");
            return;
        }

        var reply = await _localInvoke.DispatchAsync(context, call, table, InvokeRelay.UriPath(call.Uri), payload);
        if (reply.Code != PtpCodes.Success)
        {
            QueueEndpointLog.Refused(_logger, context.Request.Path.Value ?? "", reply.Code, reply.Message, call.TraceId);
        }

        if (reply.Error != GatewayError.None)
        {
            call.Error = reply.Error;
            context.Response.Headers[SiteX.Protocol.SiteXHeaders.Error] = GatewayErrors.Name(reply.Error);
        }

        call.StatusCode = reply.Code;
        call.Error = reply.Error;
        call.ErrorMessage = reply.Code == PtpCodes.Success ? null : reply.Message;
        await ErrorResponder.WriteGrpcMessageAsync(context, new Outbound { Code = reply.Code, Message = reply.Message, Payload = reply.Payload });
    }

    public async Task PopAsync(HttpContext context, GatewayCall call, bool peek)
    {
        var self = _calls.Self;
        string? topicName;
        var timeout = TimeSpan.Zero;
        if (peek)
        {
            var request = await GrpcMessageReader.ReadAsync(context, PeekInbound.Parser, 1024 * 1024);
            topicName = request.Message?.Topic;
            if (request.Message is null)
            {
                await FailAsync(context, call, PtpCodes.InvalidRequest, $"SiteX gateway {self}: {request.Error}");
                return;
            }
        }
        else
        {
            var request = await GrpcMessageReader.ReadAsync(context, PopInbound.Parser, 1024 * 1024);
            if (request.Message is not { } pop)
            {
                await FailAsync(context, call, PtpCodes.InvalidRequest, $"SiteX gateway {self}: {request.Error}");
                return;
            }

            topicName = pop.Topic;
            timeout = pop.Timeout > 0 ? TimeSpan.FromMilliseconds(pop.Timeout) : TimeSpan.Zero;
        }

        call.Topic = string.IsNullOrEmpty(topicName) ? call.Topic : topicName;
        if (!_calls.TryGetNames(call, self, requireTopic: true, out var session, out var error))
        {
            await FailAsync(context, call, PtpCodes.InvalidRequest, error);
            return;
        }

        if (peek)
        {
            var payload = await _calls.PeekAsync(call, session!, context.RequestAborted);
            await WriteAsync(context, call, new TransportOutbound { Code = PtpCodes.Success, Message = "", Payload = UnsafeByteOperations.UnsafeWrap(payload) });
            return;
        }

        var answer = await _calls.PopAsync(call, session!, timeout, context.RequestAborted);
        if (answer.Lease is { } lease)
        {
            // Complete the response (trailers with grpc-status included) before counting the message as delivered.
            // A flushed DATA frame is not a delivered message: a gRPC client discards a response that ends without
            // its trailers, so if the gateway died between the flush and the trailers, a consume record made
            // durable in that gap would lose the message.
            await _calls.DeliverAsync(context, call, lease, async (code, message, bytes) =>
            {
                await WriteAsync(context, call, new TransportOutbound { Code = code, Message = message, Payload = UnsafeByteOperations.UnsafeWrap(bytes) });
                await context.Response.CompleteAsync();
            });
            return;
        }

        if (!answer.Canceled)
        {
            await WriteAsync(context, call, new TransportOutbound { Code = answer.Code, Message = answer.Message });
        }
    }

    public async Task ReleaseAsync(HttpContext context, GatewayCall call)
    {
        var self = _calls.Self;
        var request = await GrpcMessageReader.ReadAsync(context, ReleaseInbound.Parser, 1024 * 1024);
        if (request.Message is not { } release)
        {
            await FailAsync(context, call, PtpCodes.InvalidRequest, $"SiteX gateway {self}: {request.Error}");
            return;
        }

        call.Action = "CANCEL_TOPIC";
        call.Topic = string.IsNullOrEmpty(release.Topic) ? null : release.Topic;
        if (!_calls.TryGetNames(call, self, requireTopic: false, out var session, out var error))
        {
            await FailAsync(context, call, PtpCodes.InvalidRequest, error);
            return;
        }

        await _calls.ReleaseAsync(call, session!, context.RequestAborted);
        await WriteAsync(context, call, new TransportOutbound { Code = PtpCodes.Success, Message = "success" });
    }

    private Task FailAsync(HttpContext context, GatewayCall call, string code, string message)
    {
        QueueEndpointLog.Refused(_logger, context.Request.Path.Value ?? "", code, message, call.TraceId);
        return WriteAsync(context, call, new TransportOutbound { Code = code, Message = message });
    }

    private Task FailOutboundAsync(HttpContext context, GatewayCall call, string code, string message)
    {
        QueueEndpointLog.Refused(_logger, context.Request.Path.Value ?? "", code, message, call.TraceId);
        call.StatusCode = code;
        call.ErrorMessage = message;
        return ErrorResponder.WriteGrpcMessageAsync(context, new Outbound { Code = code, Message = message });
    }

    private static Task WriteAsync(HttpContext context, GatewayCall call, TransportOutbound response)
    {
        if (call.Error != GatewayError.None && !context.Response.HasStarted)
        {
            context.Response.Headers[SiteX.Protocol.SiteXHeaders.Error] = GatewayErrors.Name(call.Error);
        }

        call.StatusCode = response.Code;
        if (response.Code != PtpCodes.Success && response.Code != PtpCodes.Timeout)
        {
            call.ErrorMessage = response.Message;
        }

        return ErrorResponder.WriteGrpcMessageAsync(context, response);
    }
}
