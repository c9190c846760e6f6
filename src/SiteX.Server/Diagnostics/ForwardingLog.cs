using Microsoft.Extensions.Logging;

namespace SiteX.Server.Diagnostics;

/// <summary>Forwarding log events, ids 1100-1199. Next free id: 1140 (1105-1119 are SiteX's own relays: invoke, Packets, HTTP interconnection; 1120-1129 outbound TLS, <see cref="OutboundTlsLog"/>; 1130-1139 the HTTP/2 relay, <see cref="H2RelayLog"/>).</summary>
internal static partial class ForwardingLog
{
    [LoggerMessage(1100, LogLevel.Warning, "Call {Path} for party {Party} service {Service} failed: {Error} ({Message}); next hop {Endpoint}; trace {TraceId}", EventName = "ForwardFailed")]
    public static partial void ForwardFailed(ILogger logger, string path, string? party, string service, string error, string message, string? endpoint, string? traceId, Exception? exception);

    [LoggerMessage(1101, LogLevel.Debug, "Call {Path} rejected: {Error} ({Message}); trace {TraceId}", EventName = "CallRejected")]
    public static partial void CallRejected(ILogger logger, string path, string error, string message, string? traceId);

    [LoggerMessage(1102, LogLevel.Error, "Unexpected failure handling {Path}; trace {TraceId}", EventName = "UnexpectedFailure")]
    public static partial void Unexpected(ILogger logger, string path, string? traceId, Exception exception);

    [LoggerMessage(1104, LogLevel.Debug, "Call {Path} ended by the caller", EventName = "CallerAborted")]
    public static partial void CallerAborted(ILogger logger, string path, Exception exception);

    [LoggerMessage(1103, LogLevel.Warning, "Access log dropped {Count} line(s) because the writer fell behind", EventName = "AccessLogDropped")]
    public static partial void AccessLogDropped(ILogger logger, long count);

    [LoggerMessage(1110, LogLevel.Warning, "Relay to party {Party} via {Endpoint} failed: {Status} {Detail}; trace {TraceId}", EventName = "RelayFailed")]
    public static partial void RelayFailed(ILogger logger, string party, string endpoint, string status, string detail, string? traceId);

    [LoggerMessage(1111, LogLevel.Warning, "HTTP invoke to party {Party} at {Endpoint} failed: {Problem}; trace {TraceId}", EventName = "InterconnInvokeFailed")]
    public static partial void InterconnFailed(ILogger logger, string party, string endpoint, string problem, string? traceId, Exception? exception);
}
