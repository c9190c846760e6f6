using Microsoft.Extensions.Logging;

namespace SiteX.Server.Diagnostics;

/// <summary>Admin plane log events, ids 1500-1509: every change made through the admin API (the audit trail), refused
/// requests and the admin token (1510-1519 are the permission rules', <see cref="PermissionLog"/>). Next free id: 1505.</summary>
/// <remarks>The token itself is never logged, only where it came from or was written to.</remarks>
internal static partial class AuditLog
{
    /// <summary>One change through the admin API: who (remote address), which endpoint, what changed.</summary>
    [LoggerMessage(1500, LogLevel.Information, "Admin change from {RemoteAddress}: {Method} {Endpoint}: {Change}", EventName = "AdminChange")]
    public static partial void Change(ILogger logger, string remoteAddress, string method, string endpoint, string change);

    /// <summary>Refused admin requests, at most one line per window (the others at Debug, event 1502).</summary>
    [LoggerMessage(1501, LogLevel.Warning, "Admin API refused {Count} request(s) since {Since:O}; the latest: {Reason} from {RemoteAddress} for {Method} {Endpoint}", EventName = "AdminRefused")]
    public static partial void Refused(ILogger logger, int count, DateTimeOffset since, string reason, string remoteAddress, string method, string endpoint);

    [LoggerMessage(1502, LogLevel.Debug, "Admin API refused {Reason} from {RemoteAddress} for {Method} {Endpoint}", EventName = "AdminRefusedDetail")]
    public static partial void RefusedDetail(ILogger logger, string reason, string remoteAddress, string method, string endpoint);

    [LoggerMessage(1503, LogLevel.Information, "Admin API token generated and written to {Path} (readable by this user only); `sitex queues` reads it from there, or pass it with --admin-token", EventName = "AdminTokenGenerated")]
    public static partial void TokenGenerated(ILogger logger, string path);

    [LoggerMessage(1504, LogLevel.Information, "Admin API token taken from {Source}", EventName = "AdminTokenConfigured")]
    public static partial void TokenConfigured(ILogger logger, string source);
}
