using SiteX.Server.Security;

namespace SiteX.Server.Routing;

/// <summary>Transport protocol of a route endpoint.</summary>
public enum EndpointProtocol
{
    /// <summary>gRPC over HTTP/2; cleartext unless <see cref="EndpointConfig.UseTls"/>.</summary>
    Grpc = 0,
    /// <summary>HTTP/1.1 or HTTP/2 with a URL (the interconnection protocol or a plain HTTP service).</summary>
    Http = 1,
}

/// <summary>Where a pinned peer party (<see cref="EndpointConfig.PeerParty"/>) is read from the peer's certificate.</summary>
public enum PeerIdentitySource
{
    /// <summary>A URI subject alternative name <c>urn:sitex:party:&lt;id&gt;</c> (what <c>sitex certs</c> writes).</summary>
    UriSan = 0,
    /// <summary>The subject's common name (CN), for certificates issued without the URI name.</summary>
    CommonName = 1,
}

/// <summary>
/// One endpoint of a route exactly as the user wrote it (OSX <c>route_table.json</c> fields or a flat rule's
/// <c>endpoint</c>), plus the TLS material its files held when the table was loaded (<see cref="Tls"/>). Record
/// equality decides whether a pooled connection to it can be reused across reloads: an edited TLS field or a TLS
/// file whose content changed makes the endpoint unequal, so it gets new connections.
/// </summary>
public sealed record EndpointConfig
{
    public string? Host { get; init; }
    public int Port { get; init; }
    public EndpointProtocol Protocol { get; init; }
    public string? Url { get; init; }
    public bool UseTls { get; init; }
    public bool UseKeyStore { get; init; }
    public string? KeyStoreFile { get; init; }
    public string? KeyStorePassword { get; init; }
    public string? TrustStoreFile { get; init; }
    public string? TrustStorePassword { get; init; }
    public string? CertChainFile { get; init; }
    public string? PrivateKeyFile { get; init; }
    public string? CaFile { get; init; }

    /// <summary>The name the peer's certificate must carry (and the TLS SNI) when it differs from the host.</summary>
    public string? Hostname { get; init; }

    /// <summary>SiteX's <c>peer_party</c>: the party the peer's certificate must name, or null for no pin.</summary>
    public string? PeerParty { get; init; }

    /// <summary>SiteX's <c>peer_identity</c>: where <see cref="PeerParty"/> is read from the certificate.</summary>
    public PeerIdentitySource PeerIdentity { get; init; }

    /// <summary>The TLS material read from this endpoint's files (client certificate, trust anchors) with a
    /// fingerprint of the TLS fields and file contents; null for a cleartext endpoint or before loading
    /// (<see cref="OutboundTlsLoader"/>).</summary>
    internal OutboundTls? Tls { get; init; }

    /// <summary>Readable form for logs, errors and the access log: <c>host:port</c> or the URL.</summary>
    public string Display => Protocol == EndpointProtocol.Http && Url is not null ? Url : $"{Host}:{Port}";

    /// <summary>Whether any TLS-only field is set: files, a key store, a pinned party.</summary>
    internal bool HasTlsFields =>
        UseKeyStore || KeyStoreFile is not null || TrustStoreFile is not null || CertChainFile is not null || PrivateKeyFile is not null || CaFile is not null || PeerParty is not null;

    /// <summary>Never print key store passwords.</summary>
    public override string ToString() => Display;
}
