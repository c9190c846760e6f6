using Microsoft.Extensions.Logging;

namespace SiteX.Server.Diagnostics;

/// <summary>Events of SiteX's own HTTP/2 server half (<see cref="Serving.H2ServerConnection"/>), ids 1140-1149 (part of
/// the forwarding range). Next free id: 1145.</summary>
internal static partial class H2ServerLog
{
    [LoggerMessage(1140, LogLevel.Information, "HTTP/2 connection {ConnectionId} ended by a protocol error of the caller ({Code}): {Reason}", EventName = "H2ServerProtocolError")]
    public static partial void ProtocolError(ILogger logger, string connectionId, string code, string reason);

    [LoggerMessage(1141, LogLevel.Debug, "HTTP/2 connection {ConnectionId} stream {StreamId}: malformed request reset: {Reason}", EventName = "H2ServerMalformedRequest")]
    public static partial void MalformedRequest(ILogger logger, string connectionId, int streamId, string reason);

    [LoggerMessage(1142, LogLevel.Debug, "HTTP/2 connection {ConnectionId} stream {StreamId} reset ({Code}): {Reason}", EventName = "H2ServerStreamError")]
    public static partial void StreamError(ILogger logger, string connectionId, int streamId, string code, string reason);

    [LoggerMessage(1143, LogLevel.Error, "HTTP/2 connection {ConnectionId} stream {StreamId}: the request failed unexpectedly", EventName = "H2ServerRequestFailed")]
    public static partial void RequestFailed(ILogger logger, string connectionId, int streamId, Exception exception);

    [LoggerMessage(1144, LogLevel.Error, "HTTP/2 connection {ConnectionId} failed unexpectedly; its requests were aborted", EventName = "H2ServerConnectionFailed")]
    public static partial void ConnectionFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(1145, LogLevel.Information, "HTTP/2 connection {ConnectionId} closed: the caller sent nothing within {Timeout} of a keepalive PING; its requests were aborted", EventName = "H2ServerKeepAliveTimeout")]
    public static partial void KeepAliveTimeout(ILogger logger, string connectionId, TimeSpan timeout);
}
