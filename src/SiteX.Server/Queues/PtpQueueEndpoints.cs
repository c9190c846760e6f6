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
    private readonly QueueManager _queues;
    private readonly PushRelay _relay;
    private readonly RouteTableManager _routes;
    private readonly SiteXOptions _options;
    private readonly ILogger<PtpQueueEndpoints> _logger;

    public PtpQueueEndpoints(QueueManager queues, PushRelay relay, RouteTableManager routes, IOptions<SiteXOptions> options, ILogger<PtpQueueEndpoints> logger)
    {
        _queues = queues;
        _relay = relay;
        _routes = routes;
        _options = options.Value;
        _logger = logger;
    }

    private long MaxRequestBytes => (long)_options.Queues.MaxMessageBytes + 64 * 1024;

    public async Task PushAsync(HttpContext context, GatewayCall call)
    {
        var table = _routes.Current;
        var self = Self(table);
        var request = await GrpcMessageReader.ReadAsync(context, PushInbound.Parser, MaxRequestBytes);
        if (request.Message is not { } push)
        {
            await FailAsync(context, call, request.TooLarge ? PtpCodes.PutMessageError : PtpCodes.InvalidRequest, $"SiteX gateway {self}: {request.Error}");
            return;
        }

        call.Topic = string.IsNullOrEmpty(push.Topic) ? call.Topic : push.Topic;
        if (!TryGetNames(context, call, self, requireTopic: true, out var session, out var error))
        {
            await FailAsync(context, call, PtpCodes.InvalidRequest, error);
            return;
        }

        var target = call.TargetParty;
        if (target is null)
        {
            await FailAsync(context, call, PtpCodes.InvalidRequest, $"SiteX gateway {self}: push needs header {PtpHeaders.TargetNodeId} (the party that pops the message)");
            return;
        }

        if (!RouteTableParser.IsValidId(target))
        {
            await FailAsync(context, call, PtpCodes.InvalidRequest, $"SiteX gateway {self}: \"{RouteTableParser.Truncate(target)}\" is not a valid party id");
            return;
        }

        if (!table.IsSelf(target))
        {
            call.Action = "MSG_REDIRECT";
            var relayed = await _relay.RelayAsync(context, call, table, push);
            await WriteAsync(context, call, new TransportOutbound { Code = relayed.Code, Message = relayed.Message });
            return;
        }

        call.Action = "MSG_DOWNLOAD";
        var outcome = await StoreAsync(session!, call.Topic!, push, context.RequestAborted);
        await WriteAsync(context, call, new TransportOutbound { Code = outcome.Code, Message = outcome.Message });
    }

    /// <summary>A self-party <c>invoke</c>: dispatch on <c>x-ptp-uri</c>. Only a queue push may arrive this way.</summary>
    public async Task InvokeLocalAsync(HttpContext context, GatewayCall call, string self)
    {
        var uriPath = UriPath(call.Uri);
        if (uriPath is not (PtpMethods.Push or "/v1/interconn/chan/push"))
        {
            var why = uriPath is PtpMethods.Pop or PtpMethods.Peek or PtpMethods.Release
                ? "pop, peek and release are local operations and cannot be invoked by a peer"
                : "it is not served here (supported: /org.ppc.ptp.PrivateTransferTransport/push)";
            call.Action = "UNARY_CALL";
            await FailOutboundAsync(context, call, PtpCodes.InvalidRequest, $"SiteX gateway {self}: x-ptp-uri \"{RouteTableParser.Truncate(call.Uri ?? "")}\" cannot be invoked: {why}");
            return;
        }

        call.Action = "MSG_DOWNLOAD";
        var request = await GrpcMessageReader.ReadAsync(context, Inbound.Parser, MaxRequestBytes);
        if (request.Message is not { } inbound)
        {
            await FailOutboundAsync(context, call, request.TooLarge ? PtpCodes.PutMessageError : PtpCodes.InvalidRequest, $"SiteX gateway {self}: {request.Error}");
            return;
        }

        PushInbound push;
        try
        {
            push = PushInbound.Parser.ParseFrom(inbound.Payload);
        }
        catch (InvalidProtocolBufferException)
        {
            await FailOutboundAsync(context, call, PtpCodes.InvalidRequest, $"SiteX gateway {self}: invoke payload for a push is not a serialized PushInbound");
            return;
        }

        call.Topic = string.IsNullOrEmpty(push.Topic) ? call.Topic : push.Topic;
        if (!TryGetNames(context, call, self, requireTopic: true, out var session, out var error))
        {
            await FailOutboundAsync(context, call, PtpCodes.InvalidRequest, error);
            return;
        }

        var outcome = await StoreAsync(session!, call.Topic!, push, context.RequestAborted);
        call.StatusCode = outcome.Code;
        call.ErrorMessage = outcome.Code == PtpCodes.Success ? null : outcome.Message;
        await ErrorResponder.WriteGrpcMessageAsync(context, new Outbound { Code = outcome.Code, Message = outcome.Message });
    }

    public async Task PopAsync(HttpContext context, GatewayCall call, bool peek)
    {
        var self = Self(_routes.Current);
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
            timeout = pop.Timeout > 0 ? TimeSpan.FromMilliseconds(pop.Timeout) : _options.Queues.DefaultPopTimeout;
        }

        call.Topic = string.IsNullOrEmpty(topicName) ? call.Topic : topicName;
        if (!TryGetNames(context, call, self, requireTopic: true, out var session, out var error))
        {
            await FailAsync(context, call, PtpCodes.InvalidRequest, error);
            return;
        }

        if (peek)
        {
            call.Action = "PEEK";
            var payload = await PeekPayloadAsync(session!, call.Topic!, context.RequestAborted);
            await WriteAsync(context, call, new TransportOutbound { Code = PtpCodes.Success, Message = "", Payload = UnsafeByteOperations.UnsafeWrap(payload) });
            return;
        }

        call.Action = "DEFUALT_CONSUME";
        var result = await _queues.PopAsync(session!, call.Topic!, timeout, context.RequestAborted);
        switch (result.Status)
        {
            case QueueStatus.Ok:
                await DeliverAsync(context, call, result.Lease!);
                return;
            case QueueStatus.Timeout:
                call.Action = "LONG_PULLING_ANSWER";
                await WriteAsync(context, call, new TransportOutbound { Code = PtpCodes.Timeout, Message = "CONSUME_MSG_TIMEOUT" });
                return;
            case QueueStatus.Released:
                call.Action = "LONG_PULLING_ANSWER";
                await WriteAsync(context, call, new TransportOutbound { Code = PtpCodes.QueueNotFound, Message = $"SiteX gateway {self}: {result.Message}" });
                return;
            case QueueStatus.Canceled:
                call.StatusCode = "cancelled";
                return;
            default:
                await WriteAsync(context, call, new TransportOutbound { Code = PtpCodes.SystemError, Message = $"SiteX gateway {self}: {result.Message}" });
                return;
        }
    }

    public async Task ReleaseAsync(HttpContext context, GatewayCall call)
    {
        var self = Self(_routes.Current);
        var request = await GrpcMessageReader.ReadAsync(context, ReleaseInbound.Parser, 1024 * 1024);
        if (request.Message is not { } release)
        {
            await FailAsync(context, call, PtpCodes.InvalidRequest, $"SiteX gateway {self}: {request.Error}");
            return;
        }

        call.Action = "CANCEL_TOPIC";
        call.Topic = string.IsNullOrEmpty(release.Topic) ? null : release.Topic;
        if (!TryGetNames(context, call, self, requireTopic: false, out var session, out var error))
        {
            await FailAsync(context, call, PtpCodes.InvalidRequest, error);
            return;
        }

        await _queues.ReleaseAsync(session!, call.Topic, context.RequestAborted);
        await WriteAsync(context, call, new TransportOutbound { Code = PtpCodes.Success, Message = "success" });
    }

    /// <summary>Writes a popped message; consumed only once the whole response, trailers included, was written to the
    /// caller's connection.</summary>
    private async Task DeliverAsync(HttpContext context, GatewayCall call, QueueLease lease)
    {
        var delivered = false;
        try
        {
            if (lease.Waited)
            {
                call.Action = "LONG_PULLING_ANSWER";
            }

            ReadOnlyMemory<byte> payload;
            try
            {
                payload = await _queues.ReadPayloadAsync(lease.Message, context.RequestAborted);
            }
            catch (QueueStoreException)
            {
                // Released (and its file reclaimed) between the lease and this read.
                await WriteAsync(context, call, new TransportOutbound { Code = PtpCodes.QueueNotFound, Message = $"SiteX gateway {Self(_routes.Current)}: the topic was released while the pop was answered" });
                return;
            }

            var response = new TransportOutbound
            {
                Code = PtpCodes.Success,
                Message = lease.Waited ? "success" : "",
                Payload = UnsafeByteOperations.UnsafeWrap(payload),
            };
            call.ResponseBytes = payload.Length;
            await WriteAsync(context, call, response);

            // Complete the response (trailers with grpc-status included) before counting the message as delivered.
            // A flushed DATA frame is not a delivered message: a gRPC client discards a response that ends without
            // its trailers, so if the gateway died between the flush and the trailers, a consume record made
            // durable in that gap would lose the message.
            await context.Response.CompleteAsync();
            delivered = !context.RequestAborted.IsCancellationRequested;
        }
        finally
        {
            _queues.Complete(lease, delivered);
        }
    }

    /// <summary>The next message's payload, or empty. A message consumed between the look and the read (its file may
    /// be gone already) is skipped by looking again.</summary>
    private async ValueTask<ReadOnlyMemory<byte>> PeekPayloadAsync(string session, string topic, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var next = _queues.Peek(session, topic);
            if (next is null)
            {
                return ReadOnlyMemory<byte>.Empty;
            }

            try
            {
                return await _queues.ReadPayloadAsync(next, cancellationToken);
            }
            catch (QueueStoreException) when (attempt < 3)
            {
            }
        }
    }

    private async ValueTask<(string Code, string Message)> StoreAsync(string session, string topic, PushInbound push, CancellationToken cancellationToken)
    {
        var result = await _queues.PushAsync(session, topic, MessageIds.Of(push), push.Payload.Memory, cancellationToken);
        return result.Status switch
        {
            QueueStatus.Ok or QueueStatus.Duplicate => (PtpCodes.Success, "success"),
            QueueStatus.StoreFailed or QueueStatus.LimitReached => (PtpCodes.PutMessageError, $"SiteX gateway {Self(_routes.Current)}: {result.Message}"),
            _ => (PtpCodes.SystemError, $"SiteX gateway {Self(_routes.Current)}: {result.Message}"),
        };
    }

    private bool TryGetNames(HttpContext context, GatewayCall call, string self, bool requireTopic, out string? session, out string error)
    {
        session = call.SessionId;
        error = "";
        if (string.IsNullOrEmpty(session))
        {
            error = $"SiteX gateway {self}: header {PtpHeaders.SessionId} is required";
            return false;
        }

        if (!QueueNames.IsValid(session, _options.Queues.MaxNameLength, out var why))
        {
            error = $"SiteX gateway {self}: session id {why}";
            return false;
        }

        if (call.Topic is null)
        {
            if (requireTopic)
            {
                error = $"SiteX gateway {self}: a topic is required";
                return false;
            }

            return true;
        }

        if (!QueueNames.IsValid(call.Topic, _options.Queues.MaxNameLength, out why))
        {
            error = $"SiteX gateway {self}: topic {why}";
            return false;
        }

        return true;
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
        call.StatusCode = response.Code;
        if (response.Code != PtpCodes.Success && response.Code != PtpCodes.Timeout)
        {
            call.ErrorMessage = response.Message;
        }

        return ErrorResponder.WriteGrpcMessageAsync(context, response);
    }

    /// <summary>The path of an <c>x-ptp-uri</c>: a plain path, or everything from the first '/' after "://".</summary>
    internal static string? UriPath(string? uri)
    {
        if (string.IsNullOrEmpty(uri))
        {
            return null;
        }

        var scheme = uri.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0)
        {
            return uri;
        }

        var slash = uri.IndexOf('/', scheme + 3);
        return slash < 0 ? "/" : uri[slash..];
    }

    private static string Self(RouteTable table) => table.SelfPartyList.Count > 0 ? table.SelfPartyList[0] : "?";
}
