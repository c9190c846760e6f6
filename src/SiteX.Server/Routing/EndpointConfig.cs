namespace SiteX.Server.Routing;

/// <summary>Transport protocol of a route endpoint.</summary>
public enum EndpointProtocol
{
    /// <summary>gRPC over HTTP/2; cleartext unless <see cref="EndpointConfig.UseTls"/>.</summary>
    Grpc = 0,
    /// <summary>HTTP/1.1 or HTTP/2 with a URL (the interconnection protocol or a plain HTTP service).</summary>
    Http = 1,
}

/// <summary>
/// One endpoint of a route exactly as the user wrote it (OSX <c>route_table.json</c> fields or a flat rule's
/// <c>endpoint</c>). Record equality decides whether a pooled connection to it can be reused across reloads.
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
    public string? Hostname { get; init; }

    /// <summary>Readable form for logs, errors and the access log: <c>host:port</c> or the URL.</summary>
    public string Display => Protocol == EndpointProtocol.Http && Url is not null ? Url : $"{Host}:{Port}";

    /// <summary>Never print key store passwords.</summary>
    public override string ToString() => Display;
}
