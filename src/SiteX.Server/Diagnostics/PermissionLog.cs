using Microsoft.Extensions.Logging;

namespace SiteX.Server.Diagnostics;

/// <summary>Permission (ACL) log events, ids 1510-1519 (1500-1509 are the admin plane's, <see cref="AuditLog"/>). Next free id: 1511.</summary>
internal static partial class PermissionLog
{
    [LoggerMessage(1510, LogLevel.Information, "Permission denied by {Rule}: party {FromParty} ({FromKind}) service {FromService} may not reach party {ToParty} service {ToService}; {Path}; trace {TraceId}", EventName = "PermissionDenied")]
    public static partial void Denied(ILogger logger, string rule, string fromParty, string fromKind, string fromService, string toParty, string toService, string path, string? traceId);
}
