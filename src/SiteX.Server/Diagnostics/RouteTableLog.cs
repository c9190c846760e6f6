using Microsoft.Extensions.Logging;

namespace SiteX.Server.Diagnostics;

/// <summary>Routing log events, ids 1000-1099. Next free id: 1008.</summary>
internal static partial class RouteTableLog
{
    [LoggerMessage(1000, LogLevel.Information, "Route table version {Version} applied from {Source}: {Parties} parties, {Rules} rules, self parties {SelfParties}", EventName = "RouteTableApplied")]
    public static partial void Applied(ILogger logger, long version, string source, int parties, int rules, string selfParties);

    [LoggerMessage(1001, LogLevel.Error, "Route table edit from {Source} rejected with {Count} error(s); version {Version} keeps serving: {Errors}", EventName = "RouteTableRejected")]
    public static partial void Rejected(ILogger logger, string source, int count, long version, string errors);

    [LoggerMessage(1002, LogLevel.Warning, "Could not read route table {Path} ({Reason}); the current table keeps serving and the next change retries", EventName = "RouteTableReadFailed")]
    public static partial void ReloadReadFailed(ILogger logger, string path, string reason);

    [LoggerMessage(1003, LogLevel.Warning, "Route table watcher for {Path} reported an error ({Reason}); re-reading the file", EventName = "RouteTableWatcherError")]
    public static partial void WatcherError(ILogger logger, string path, string reason);

    [LoggerMessage(1004, LogLevel.Information, "No route table file configured: serving an empty table with self parties {SelfParties}", EventName = "RouteTableEmbedded")]
    public static partial void UsingEmbeddedDefaults(ILogger logger, string selfParties);

    [LoggerMessage(1005, LogLevel.Warning, "Route table {Source} has no \"self_party\"; using the configured self parties {SelfParties}", EventName = "RouteTableNoSelfParty")]
    public static partial void NoSelfPartyInTable(ILogger logger, string source, string selfParties);

    [LoggerMessage(1006, LogLevel.Warning, "Route table {Source} has top-level key(s) SiteX does not read, kept and ignored: {Keys}", EventName = "RouteTableIgnoredKeys")]
    public static partial void IgnoredKeys(ILogger logger, string source, string keys);

    [LoggerMessage(1007, LogLevel.Information, "Route table version {Version} permissions: {Rules} rule(s), calls no rule matches are {Default} ({DefaultPath})", EventName = "PermissionsApplied")]
    public static partial void PermissionsApplied(ILogger logger, long version, int rules, string @default, string defaultPath);
}
