using Microsoft.Extensions.Logging;

namespace SiteX.Server.Queues;

/// <summary>Queue endpoint log events, ids 1260-1279. Next free id: 1262 (1261, the old push relay failure, moved to ForwardingLog 1110).</summary>
internal static partial class QueueEndpointLog
{
    [LoggerMessage(1260, LogLevel.Debug, "Queue call {Path} refused with {Code}: {Message}; trace {TraceId}", EventName = "QueueCallRefused")]
    public static partial void Refused(ILogger logger, string path, string code, string message, string? traceId);

}
