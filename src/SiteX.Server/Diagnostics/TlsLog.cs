using Microsoft.Extensions.Logging;

namespace SiteX.Server.Diagnostics;

/// <summary>Inter-site TLS and peer identity log events, ids 1400-1419. All ids are taken: new events go to a new range.</summary>
internal static partial class TlsLog
{
    [LoggerMessage(1400, LogLevel.Information, "Inter-site TLS ports closed: no certificate configured (set --tls-cert, --tls-key and --tls-ca, or Tls:Pkcs12File, to open the TLS gRPC and HTTPS ports)", EventName = "TlsPortsClosed")]
    public static partial void PortsClosed(ILogger logger);

    [LoggerMessage(1401, LogLevel.Information, "TLS material {Action}: certificate {Subject} (thumbprint {Thumbprint}, valid until {NotAfter:u}) from {Source}; {CaCount} trusted peer CA certificate(s) from {CaFile}", EventName = "TlsMaterialLoaded")]
    public static partial void Loaded(ILogger logger, string action, string subject, string thumbprint, DateTime notAfter, string source, int caCount, string caFile);

    [LoggerMessage(1402, LogLevel.Error, "Changed TLS files rejected: {Reason}; certificate {Thumbprint} keeps serving", EventName = "TlsReloadRejected")]
    public static partial void ReloadRejected(ILogger logger, string reason, string thumbprint);

    [LoggerMessage(1403, LogLevel.Debug, "TLS file event with unchanged content ({Files}); nothing reloaded", EventName = "TlsReloadUnchanged")]
    public static partial void ReloadUnchanged(ILogger logger, string files);

    [LoggerMessage(1404, LogLevel.Debug, "TLS files not loadable yet (attempt {Attempt}: {Reason}); retrying in {Delay}", EventName = "TlsReloadRetry")]
    public static partial void ReloadRetry(ILogger logger, int attempt, string reason, TimeSpan delay);

    [LoggerMessage(1405, LogLevel.Warning, "TLS handshake on {Listener} port {Port} from {Remote} refused: client certificate {Reason} (subject {Subject}, issuer {Issuer}, thumbprint {Thumbprint})", EventName = "ClientCertificateRejected")]
    public static partial void ClientCertificateRejected(ILogger logger, string listener, int port, string remote, string reason, string subject, string issuer, string thumbprint);

    [LoggerMessage(1406, LogLevel.Warning, "TLS handshake on {Listener} port {Port} from {Remote} refused: no client certificate (Tls:ClientCertificate is Required)", EventName = "ClientCertificateMissing")]
    public static partial void ClientCertificateMissing(ILogger logger, string listener, int port, string remote);

    [LoggerMessage(1407, LogLevel.Debug, "Peer party {Party} connected to {Listener} port {Port} from {Remote} (certificate {Thumbprint})", EventName = "PeerConnected")]
    public static partial void PeerConnected(ILogger logger, string party, string listener, int port, string remote, string thumbprint);

    [LoggerMessage(1408, LogLevel.Information, "Connection to TLS port {Port} ({Listener}) from {Remote} closed: it did not start a TLS handshake (a plain-text client; it must use https:// or TLS)", EventName = "PlainTextOnTlsPort")]
    public static partial void PlainTextOnTlsPort(ILogger logger, string listener, int port, string remote);

    [LoggerMessage(1409, LogLevel.Information, "Connection to plain port {Port} ({Listener}) from {Remote} closed: it started a TLS handshake (a TLS client on a plain-text port; peers use the TLS ports)", EventName = "TlsOnPlainPort")]
    public static partial void TlsOnPlainPort(ILogger logger, string listener, int port, string remote);

    [LoggerMessage(1410, LogLevel.Warning, "Call {Path} from peer party {Peer} refused: it claims source party {Claimed} in {Field}; trace {TraceId}", EventName = "IdentityMismatch")]
    public static partial void IdentityMismatch(ILogger logger, string path, string peer, string claimed, string field, string? traceId);

    [LoggerMessage(1411, LogLevel.Information, "Call {Path} from peer party {Peer} refused on the inter-site port: it is a local operation; trace {TraceId}", EventName = "LocalOnlyRefused")]
    public static partial void LocalOnlyRefused(ILogger logger, string path, string peer, string? traceId);

    [LoggerMessage(1412, LogLevel.Warning, "TLS file watcher for {Directory} reported an error ({Reason}); re-reading the files", EventName = "TlsWatcherError")]
    public static partial void WatcherError(ILogger logger, string directory, string reason);

    [LoggerMessage(1413, LogLevel.Warning, "TLS certificate {Thumbprint} ({Subject}) expires on {NotAfter:u}, in {Days} day(s); replace the file before then (it is reloaded without a restart)", EventName = "TlsCertificateExpiresSoon")]
    public static partial void ExpiresSoon(ILogger logger, string thumbprint, string subject, DateTime notAfter, int days);

    [LoggerMessage(1414, LogLevel.Warning, "Call {Path} on the inter-site port refused: {Reason} (the token names party {Party})", EventName = "TokenRefused")]
    public static partial void TokenRefused(ILogger logger, string path, string party, string reason);

    [LoggerMessage(1415, LogLevel.Warning, "Call {Path} on the inter-site port refused: {Reason}; trace {TraceId}", EventName = "Unauthenticated")]
    public static partial void Unauthenticated(ILogger logger, string path, string reason, string? traceId);

    [LoggerMessage(1416, LogLevel.Warning, "No request token for the call to party {Target} through the gateway of party {Peer}: no key shared with it is valid now (Tokens:Keys NotBefore/NotAfter); the call goes unsigned", EventName = "TokenKeyUnavailable")]
    public static partial void TokenKeyUnavailable(ILogger logger, string target, string peer);

    [LoggerMessage(1417, LogLevel.Information, "Request token keys {Action}: {Count} key(s) shared with {Peers} from {Source}", EventName = "TokenKeysLoaded")]
    public static partial void TokenKeysLoaded(ILogger logger, string action, int count, string peers, string source);

    [LoggerMessage(1418, LogLevel.Error, "Changed token key file {File} rejected: {Reason}; the {Count} key(s) loaded before keep serving", EventName = "TokenKeysRejected")]
    public static partial void TokenKeysRejected(ILogger logger, string file, string reason, int count);

    [LoggerMessage(1419, LogLevel.Warning, "Token key file {File} is readable by other users; it holds secrets (chmod 600)", EventName = "TokenKeyFileReadable")]
    public static partial void TokenKeyFileReadable(ILogger logger, string file);
}
