using Microsoft.Extensions.Logging;

namespace SiteX.Server.Queues;

/// <summary>Queue endpoint log events, ids 1260-1279. Next free id: 1262.</summary>
internal static partial class QueueEndpointLog
{
    [LoggerMessage(1260, LogLevel.Debug, "Queue call {Path} refused with {Code}: {Message}; trace {TraceId}", EventName = "QueueCallRefused")]
    public static partial void Refused(ILogger logger, string path, string code, string message, string? traceId);

    [LoggerMessage(1261, LogLevel.Warning, "Relaying a push for party {Party} to {Endpoint} failed: {Status} {Detail}; trace {TraceId}", EventName = "QueueRelayFailed")]
    public static partial void RelayFailed(ILogger logger, string party, string endpoint, string status, string detail, string? traceId);
}
