using Microsoft.Extensions.Logging;

namespace SiteX.Server.Diagnostics;

/// <summary>Outbound TLS events, ids 1120-1129 (part of the forwarding range). Next free id: 1124.</summary>
internal static partial class OutboundTlsLog
{
    [LoggerMessage(1120, LogLevel.Warning, "Outbound TLS for party {Party}: {Reason}; trace {TraceId}", EventName = "OutboundTlsFailed")]
    public static partial void HandshakeFailed(ILogger logger, string party, string reason, string? traceId);

    [LoggerMessage(1121, LogLevel.Debug, "Outbound TLS identity {Identity} retired; {Calls} call(s) still use it, it is disposed when they finish", EventName = "OutboundTlsIdentityRetired")]
    public static partial void IdentityRetired(ILogger logger, string identity, int calls);

    [LoggerMessage(1122, LogLevel.Information, "TLS file(s) changed: {Files}; reloading the TLS material of the route table", EventName = "OutboundTlsFilesChanged")]
    public static partial void FilesChanged(ILogger logger, string files);

    [LoggerMessage(1123, LogLevel.Warning, "Watching TLS files failed: {Message}", EventName = "OutboundTlsWatchFailed")]
    public static partial void WatchFailed(ILogger logger, string message);
}
