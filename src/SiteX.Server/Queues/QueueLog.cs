using Microsoft.Extensions.Logging;

namespace SiteX.Server.Queues;

/// <summary>Queue manager log events, ids 1250-1259 (the store has 1200-1249, the endpoints 1260-1279). Next free id: 1254.</summary>
internal static partial class QueueLog
{
    [LoggerMessage(1250, LogLevel.Information, "Queues restored: {Messages} unconsumed message(s) in {Sessions} session(s)", EventName = "QueuesRestored")]
    public static partial void Restored(ILogger logger, int messages, int sessions);

    [LoggerMessage(1251, LogLevel.Information, "Released session {Session} topic {Topic}: {Dropped} unconsumed message(s) dropped, {Waiters} waiting pop(s) answered", EventName = "QueueReleased")]
    public static partial void Released(ILogger logger, string session, string topic, int dropped, int waiters);

    [LoggerMessage(1252, LogLevel.Information, "Session {Session} idle for {IdleTimeout}: releasing it", EventName = "QueueSessionExpired")]
    public static partial void Expired(ILogger logger, string session, TimeSpan idleTimeout);

    [LoggerMessage(1253, LogLevel.Warning, "Could not record the consumption of message {Sequence}; it may be delivered again after a restart", EventName = "QueueConsumeRecordFailed")]
    public static partial void ConsumeRecordFailed(ILogger logger, long sequence, Exception exception);
}
