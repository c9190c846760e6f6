using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Forwarding.H2;
using SiteX.Server.Queues;
using SiteX.Server.Routing;
using SiteX.Server.Security;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding;

/// <summary>What a call SiteX made itself came back with: a PTP code and message (and payload) from the peer, or a
/// <see cref="GatewayError"/> of this gateway (with its PTP code) when the peer was never reached or failed.</summary>
internal readonly record struct InvokeReply(GatewayError Error, string Code, string Message, ByteString Payload)
{
    public static InvokeReply Failed(GatewayError error, string message) => new(error, GatewayErrors.ToPtpCode(error), message, ByteString.Empty);
}

/// <summary>One <c>invoke</c> to send: the uri path it is for, its payload, and the parties it names when they are
/// not the caller's own headers (a Packet converted to an invoke names its own).</summary>
internal sealed record InvokeMessage(string UriPath, ByteString Payload)
{
    public string? Target { get; init; }

    public string? Source { get; init; }
}

/// <summary>The next hop chosen for a relayed call, the loop-detection headers it must carry, and the peer whose
/// shared key signs it (null: unsigned).</summary>
internal readonly record struct RelayHop(RouteDestination Endpoint, int Hops, string Via, string? Signer = null);

/// <summary>
/// Sends an <c>invoke</c> to a remote party's gateway in whatever protocol its route speaks: gRPC
/// <c>PrivateTransferProtocol/invoke</c> or the interconnection standard's HTTP <c>/v1/interconn/chan/invoke</c>
/// (<see cref="InterconnClient"/>). The caller's <c>x-ptp-*</c> headers always travel with it (OSX drops them when an
/// HTTP invoke is relayed over gRPC), <c>x-ptp-uri</c> is always set (OSX omits it on relayed HTTP pushes), and a queue
/// push is re-encoded for the next hop's transport (<see cref="PushPayload"/>).
/// </summary>
internal sealed class InvokeRelay(NextHopClientPool clients, InterconnClient http, GatewayIdentity identity, RequestTokens tokens, H2Relay h2, IOptions<SiteXOptions> options,
    ILogger<InvokeRelay> logger)
{
    private readonly bool _overRelay = options.Value.ForwardingEngine == ForwardingEngine.H2Relay;

    /// <summary>Whether a payload given to <see cref="SendAsync(HttpContext, GatewayCall, RouteTable, InvokeMessage)"/>
    /// may still be read after it returned: with Grpc.Net.Client (YARP's engine) the request can still be sending when
    /// the answer ends the call; the HTTP/2 relay is done with it by then, and an HTTP next hop gets a copy.</summary>
    public bool ReadsPayloadAfterReturn => !_overRelay;

    /// <summary>OSX's push uri over HTTP; SiteX also accepts it in <c>x-ptp-uri</c>.</summary>
    public const string ChanPushPath = "/v1/interconn/chan/push";

    /// <summary>OSX's uri for a <c>unaryCall</c> Packet carried by an HTTP invoke.</summary>
    public const string UnaryPath = "/org.fedai.osx.proxy/unary";

    private static readonly string[] s_copiedHeaders =
    [
        PtpHeaders.Version, PtpHeaders.TraceId, PtpHeaders.Token, PtpHeaders.SourceNodeId, PtpHeaders.FromNodeId,
        PtpHeaders.SourceInstId, PtpHeaders.TargetNodeId, PtpHeaders.TargetInstId, PtpHeaders.SessionId, PtpHeaders.Topic,
        PtpHeaders.QueueType, PtpHeaders.MessageFlag, PtpHeaders.JobId,
    ];

    public static bool IsPushUri(string? uriPath) => uriPath is PtpMethods.Push or ChanPushPath;

    /// <summary>The path of an <c>x-ptp-uri</c>: a plain path, or everything from the first '/' after "://" (OSX's rule).</summary>
    public static string? UriPath(string? uri)
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

    /// <summary>
    /// Loop check and route lookup for a call this gateway relays itself. On failure <paramref name="failure"/> says why,
    /// in the words the caller will see.
    /// </summary>
    public bool TryResolve(HttpContext context, GatewayCall call, RouteTable table, string party, string service, out RelayHop hop, out InvokeReply failure)
    {
        var self = table.GatewayName;
        var loop = identity.CheckLoop(context.Request.Headers, self);
        var (hops, via) = (loop.Hops, loop.Via); // an unreadable count reads as 0: it is not this relay's business
        hop = default;
        if (loop.Verdict is LoopVerdict.CameBack or LoopVerdict.TooManyHops || (loop.Verdict == LoopVerdict.BadHops && via.Length > 0 && identity.IsIn(via)))
        {
            failure = InvokeReply.Failed(GatewayError.RoutingLoop,
                $"SiteX gateway {self}: routing loop for party {party}: the call came back after {CallForwarder.DescribeVia(via)}; check the routes for party {party} at these gateways");
            return false;
        }

        if (!table.TryLookup(party, service, call.SourceParty, out var match))
        {
            failure = InvokeReply.Failed(GatewayError.NoRoute,
                $"SiteX gateway {self}: no route to party {party} service {service}; add party \"{party}\" (or a \"default\" party) to the route table");
            return false;
        }

        var endpoint = match.Group.Pick();
        call.Endpoint = endpoint;
        call.ToPeerGateway = !table.IsSelf(party);
        hop = new RelayHop(endpoint, hops, loop.NextVia, tokens.SignerFor(match.Group, endpoint, call.ToPeerGateway));
        failure = default;
        return true;
    }

    /// <summary>Relays <paramref name="message"/> to the gateway of <see cref="GatewayCall.TargetParty"/>.</summary>
    public async Task<InvokeReply> SendAsync(HttpContext context, GatewayCall call, RouteTable table, InvokeMessage message)
    {
        var target = message.Target ?? call.TargetParty!;
        if (!TryResolve(context, call, table, target, RouteTableParser.DefaultKey, out var hop, out var failure))
        {
            return failure;
        }

        return await SendAsync(context, call, table, hop, message);
    }

    /// <summary>Sends <paramref name="message"/> to an already chosen next hop.</summary>
    public async Task<InvokeReply> SendAsync(HttpContext context, GatewayCall call, RouteTable table, RelayHop hop, InvokeMessage message)
    {
        var self = table.GatewayName;
        var target = message.Target ?? call.TargetParty!;
        var overHttp = hop.Endpoint.Config.Protocol == EndpointProtocol.Http;
        if (overHttp && table.IsSelf(target))
        {
            return InvokeReply.Failed(GatewayError.Unsupported,
                $"SiteX gateway {self}: the route for party {target} is a plain HTTP service, which cannot take {message.UriPath}; route it to a gRPC service or a peer gateway");
        }

        var payload = IsPushUri(message.UriPath) ? PushPayload.For(overHttp, message.Payload) : message.Payload;
        var headers = Headers(context.Request.Headers, message, target, hop, overHttp);
        DateTime? deadline = GrpcDeadline.TryParse(context.Request.Headers["grpc-timeout"], out var timeout) ? DateTime.UtcNow + timeout : null;
        call.RequestBytes = payload.Length;
        if (hop.Signer is { } peer)
        {
            var (path, digest) = overHttp
                ? (InterconnClient.InvokeUri(hop.Endpoint).PathAndQuery, InterconnClient.BodyDigest(payload, tokens.MaxSignedBodyBytes))
                : (PtpMethods.Invoke, tokens.GrpcBodyDigest(new Inbound { Payload = payload }));
            tokens.SignInto(headers, peer, self, path, digest);
        }

        if (overHttp)
        {
            if (_overRelay && ReferenceEquals(payload, message.Payload))
            {
                payload = ByteString.CopyFrom(payload.Span); // HttpClient may hold the caller's bytes (pooled) past the answer
            }

            var reply = await http.InvokeAsync(hop.Endpoint, headers, payload, deadline, self, target, call.TraceId, context.RequestAborted);
            call.ResponseBytes = reply.Payload.Length;
            return reply;
        }

        if (_overRelay)
        {
            return await SendOverRelayAsync(context, call, self, target, hop.Endpoint, headers, payload, deadline);
        }

        var metadata = new Grpc.Core.Metadata();
        foreach (var (name, value) in headers)
        {
            metadata.Add(name, value);
        }

        try
        {
            var client = new PrivateTransferProtocol.PrivateTransferProtocolClient(clients.GetChannel(hop.Endpoint));
            var reply = await client.invokeAsync(new Inbound { Payload = payload }, metadata, deadline, context.RequestAborted);
            call.ResponseBytes = reply.Payload.Length;
            return new InvokeReply(GatewayError.None, reply.Code, reply.Message, reply.Payload);
        }
        catch (RpcException ex)
        {
            return Failed(ex, self, target, hop.Endpoint, call.TraceId);
        }
    }

    /// <summary>The gRPC <c>invoke</c> over the HTTP/2 relay's pooled connections (the default engine): the
    /// <c>Inbound</c> is framed around the payload as it is, and the <c>Outbound</c> parsed from the collected response.</summary>
    private async Task<InvokeReply> SendOverRelayAsync(HttpContext context, GatewayCall call, string self, string target, RouteDestination endpoint,
        List<KeyValuePair<string, string>> headers, ByteString payload, DateTime? deadline)
    {
        var timeout = deadline is { } at ? at - DateTime.UtcNow : (TimeSpan?)null;
        if (timeout <= TimeSpan.Zero)
        {
            return Failed(StatusCode.DeadlineExceeded, "the deadline passed before the call was sent", null, self, target, endpoint, call.TraceId);
        }

        var frame = GrpcFrame.OfBytesField(Inbound.PayloadFieldNumber, payload.Memory);
        using var result = await h2.CallUnaryAsync(endpoint, call, PtpMethods.Invoke, headers, frame, timeout, context.RequestAborted);
        if (result.Error != ForwarderError.None)
        {
            var deadlinePassed = deadline is not null && DateTime.UtcNow >= deadline && !context.RequestAborted.IsCancellationRequested;
            var code = CallForwarder.Classify(result.Error, result.Failure, deadlinePassed, context.RequestAborted.IsCancellationRequested) switch
            {
                GatewayError.NextHopUnreachable => StatusCode.Unavailable,
                GatewayError.NextHopTimeout => StatusCode.DeadlineExceeded,
                GatewayError.Canceled => StatusCode.Cancelled,
                _ => StatusCode.Internal,
            };
            return Failed(code, result.Failure?.Message ?? result.Error.ToString(), result.Failure, self, target, endpoint, call.TraceId);
        }

        if (result.HttpStatus != StatusCodes.Status200OK)
        {
            return Failed(FromHttpStatus(result.HttpStatus), $"HTTP status {result.HttpStatus}", null, self, target, endpoint, call.TraceId);
        }

        if (result.GrpcStatus != "0")
        {
            var code = int.TryParse(result.GrpcStatus, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? (StatusCode)value : StatusCode.Unknown;
            return Failed(code, result.GrpcMessage ?? (result.GrpcStatus is null ? "the response has no grpc-status" : null), null, self, target, endpoint, call.TraceId);
        }

        if (!TryParseReply(result.Body, out var reply, out var problem))
        {
            return Failed(StatusCode.Internal, problem, null, self, target, endpoint, call.TraceId);
        }

        call.ResponseBytes = reply.Payload.Length;
        return new InvokeReply(GatewayError.None, reply.Code, reply.Message, reply.Payload);
    }

    /// <summary>The one uncompressed <c>Outbound</c> message of a unary response body.</summary>
    private static bool TryParseReply(ReadOnlySequence<byte> body, out Outbound reply, out string problem)
    {
        reply = new Outbound();
        Span<byte> prefix = stackalloc byte[GrpcFrame.PrefixLength];
        if (body.Length < GrpcFrame.PrefixLength)
        {
            problem = "the response has no message";
            return false;
        }

        body.Slice(0, GrpcFrame.PrefixLength).CopyTo(prefix);
        var length = BinaryPrimitives.ReadUInt32BigEndian(prefix[1..]);
        if (prefix[0] != 0 || length != body.Length - GrpcFrame.PrefixLength)
        {
            problem = prefix[0] != 0 ? "the response message is compressed, which was not asked for" : "the response is not exactly one message";
            return false;
        }

        try
        {
            reply = Outbound.Parser.ParseFrom(body.Slice(GrpcFrame.PrefixLength));
        }
        catch (InvalidProtocolBufferException)
        {
            problem = "the response is not an Outbound message";
            return false;
        }

        problem = "";
        return true;
    }

    /// <summary>The gRPC status of a response that is not HTTP 200, as gRPC clients map it.</summary>
    private static StatusCode FromHttpStatus(int status) => status switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    /// <summary>Maps a failed gRPC call SiteX made to a next hop to the caller's error; details stay in the log.</summary>
    public InvokeReply Failed(RpcException ex, string self, string target, RouteDestination endpoint, string? traceId) =>
        Failed(ex.StatusCode, ex.Status.Detail, ex, self, target, endpoint, traceId);

    private InvokeReply Failed(StatusCode status, string? detail, Exception? exception, string self, string target, RouteDestination endpoint, string? traceId)
    {
        ForwardingLog.RelayFailed(logger, target, endpoint.Display, status.ToString(), detail ?? "", traceId);
        if (status == StatusCode.Unavailable && NextHopTlsException.Find(exception) is { } tls)
        {
            OutboundTlsLog.HandshakeFailed(logger, target, tls.Message, traceId);
            return InvokeReply.Failed(GatewayError.NextHopUnreachable, $"SiteX gateway {self}: TLS handshake with the next hop for party {target} failed: {tls.SafeReason}");
        }

        return status switch
        {
            StatusCode.Unavailable => InvokeReply.Failed(GatewayError.NextHopUnreachable, $"SiteX gateway {self}: the next hop for party {target} is unreachable"),
            StatusCode.DeadlineExceeded => InvokeReply.Failed(GatewayError.NextHopTimeout, $"SiteX gateway {self}: deadline exceeded waiting for the next hop for party {target}"),
            StatusCode.Cancelled => InvokeReply.Failed(GatewayError.Canceled, $"SiteX gateway {self}: the call to party {target} was cancelled"),
            _ => InvokeReply.Failed(GatewayError.NextHopFailed, $"SiteX gateway {self}: the next hop for party {target} failed ({status})"),
        };
    }

    /// <summary>The headers of a relayed call: the caller's PTP headers, the parties the message names, the uri in the
    /// form the next hop's transport uses, the tech-provider code a Java OSX insists on, and the loop-detection pair.</summary>
    public static List<KeyValuePair<string, string>> Headers(IHeaderDictionary request, InvokeMessage message, string target, RelayHop hop, bool overHttp)
    {
        var headers = new List<KeyValuePair<string, string>>(20);
        foreach (var name in s_copiedHeaders)
        {
            var value = name switch
            {
                PtpHeaders.TargetNodeId => message.Target ?? request[name].ToString(),
                PtpHeaders.SourceNodeId when message.Source is not null => message.Source,
                PtpHeaders.Token when RequestTokens.IsHopToken(request[name].ToString()) => "", // it was for this gateway
                _ => request[name].ToString(),
            };
            if (value.Length > 0)
            {
                headers.Add(new(name, value));
            }
        }

        if (request[PtpHeaders.SourceNodeId].Count == 0 && message.Source is null && request[PtpHeaders.FromNodeId].ToString() is { Length: > 0 } from)
        {
            headers.Add(new(PtpHeaders.SourceNodeId, from)); // a Java OSX reads only this spelling
        }

        if (!headers.Exists(h => h.Key == PtpHeaders.TargetNodeId))
        {
            headers.Add(new(PtpHeaders.TargetNodeId, target));
        }

        var tech = request[PtpHeaders.TechProviderCode].ToString();
        headers.Add(new(PtpHeaders.TechProviderCode, tech.Length > 0 ? tech : "FATE"));
        var uri = IsPushUri(message.UriPath) ? PtpMethods.Push : message.UriPath;
        headers.Add(new(PtpHeaders.Uri, overHttp ? uri : "grpcs://fedai.org" + uri)); // the form OSX sends over gRPC
        headers.Add(new(SiteXHeaders.Hops, (hop.Hops + 1).ToString(CultureInfo.InvariantCulture)));
        headers.Add(new(SiteXHeaders.Via, hop.Via));
        return headers;
    }
}
