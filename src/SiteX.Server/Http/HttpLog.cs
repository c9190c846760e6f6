using Microsoft.Extensions.Logging;

namespace SiteX.Server.Http;

/// <summary>HTTP/1.1 interconnection port log events, ids 1300-1319. Next free id: 1302.</summary>
internal static partial class HttpLog
{
    [LoggerMessage(1300, LogLevel.Debug, "HTTP {Method} {Path} refused with {Status} {Error}: {Message}; trace {TraceId}", EventName = "HttpCallRefused")]
    public static partial void Refused(ILogger logger, string method, string path, int status, string error, string message, string? traceId);

    [LoggerMessage(1301, LogLevel.Error, "HTTP {Path} failed unexpectedly; trace {TraceId}", EventName = "HttpCallFailed")]
    public static partial void Unexpected(ILogger logger, string path, string? traceId, Exception exception);
}
