using Microsoft.Extensions.Logging;

namespace SiteX.Server.Diagnostics;

/// <summary>HTTP/2 relay events (<see cref="Forwarding.H2.H2Relay"/>), ids 1130-1139 (part of the forwarding range).
/// Next free id: 1134.</summary>
internal static partial class H2RelayLog
{
    [LoggerMessage(1130, LogLevel.Debug, "HTTP/2 relay connection to {Endpoint} opened", EventName = "H2RelayConnectionOpened")]
    public static partial void ConnectionOpened(ILogger logger, string endpoint);

    [LoggerMessage(1131, LogLevel.Warning, "HTTP/2 relay connection to {Endpoint} failed: {Reason}", EventName = "H2RelayConnectionFailed")]
    public static partial void ConnectionFailed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(1132, LogLevel.Debug, "HTTP/2 relay connection to {Endpoint} got GOAWAY ({Code}, last stream {LastStreamId})", EventName = "H2RelayGoAway")]
    public static partial void GoAway(ILogger logger, string endpoint, string code, int lastStreamId);

    [LoggerMessage(1133, LogLevel.Debug, "HTTP/2 relay connection to {Endpoint} closed after being idle", EventName = "H2RelayConnectionIdle")]
    public static partial void ConnectionIdle(ILogger logger, string endpoint);
}
