using SiteX.Server.Security;

namespace SiteX.Server.Routing;

/// <summary>The endpoints of one (party, service) route, with round-robin selection.</summary>
public sealed class RouteGroup
{
    private int _next = -1;

    internal RouteGroup(string party, string service, string? sourceParty, IEnumerable<EndpointConfig> endpoints, string path, bool isPeerGateway)
    {
        Party = party;
        Service = service;
        SourceParty = sourceParty;
        IsPeerGateway = isPeerGateway;
        var destinations = endpoints.Select(e => new RouteDestination(e, isPeerGateway)).ToArray();
        Endpoints = destinations;
        Path = path;
        AllHttp = destinations.Length > 0 && Array.TrueForAll(destinations, e => e.Config.Protocol == EndpointProtocol.Http);
    }

    /// <summary>
    /// Whether a route at this place in the table leads to another gateway rather than to the service itself: the
    /// <c>default</c> service of a party this gateway does not serve, and anything under the <c>default</c> party (an
    /// exchange). A named service, or any service of a self party, is the service itself.
    /// </summary>
    public static bool LeadsToPeerGateway(string party, string service, IReadOnlySet<string> selfParties) =>
        party == RouteTableParser.DefaultKey || (service == RouteTableParser.DefaultKey && !selfParties.Contains(party));

    /// <summary>The party key of the table entry (may be <c>default</c>).</summary>
    public string Party { get; }

    /// <summary>The service key of the table entry (may be <c>default</c>).</summary>
    public string Service { get; }

    public string? SourceParty { get; }

    public IReadOnlyList<RouteDestination> Endpoints { get; }

    /// <summary>Every endpoint is an HTTP <c>url</c>: gRPC calls to it must be converted, not passed through.</summary>
    public bool AllHttp { get; }

    /// <summary>True when the endpoints are another gateway (see <see cref="LeadsToPeerGateway"/>), false when they
    /// are the service.</summary>
    public bool IsPeerGateway { get; }

    /// <summary>Where the rule is in its document, e.g. <c>route_table.10000.default</c>.</summary>
    public string Path { get; }

    /// <summary>Picks the next endpoint in turn. Thread-safe, allocation-free.</summary>
    public RouteDestination Pick()
    {
        var endpoints = (RouteDestination[])Endpoints;
        if (endpoints.Length == 1)
        {
            return endpoints[0];
        }

        var index = (uint)Interlocked.Increment(ref _next) % (uint)endpoints.Length;
        return endpoints[index];
    }
}

/// <summary>A resolved endpoint: its config plus what forwarding needs, computed once per table version.</summary>
public sealed class RouteDestination
{
    internal RouteDestination(EndpointConfig config, bool isPeerGateway)
    {
        Config = config;
        Display = config.Display;
        if (config.Protocol == EndpointProtocol.Http && config.Url is not null)
        {
            var uri = new Uri(config.Url);
            DestinationPrefix = uri.GetLeftPart(UriPartial.Authority);
            IsHttps = uri.Scheme == Uri.UriSchemeHttps;

            // A service's URL path is where the service lives ("http://10.0.0.5:8080/base" serves /x at /base/x); a peer
            // gateway's URL path ("/v1/interconn/chan/invoke") names its invoke endpoint, which plain HTTP requests
            // do not use: they keep their own path. The query and fragment of a URL are not used.
            ForwardPrefix = isPeerGateway ? DestinationPrefix : uri.GetLeftPart(UriPartial.Path).TrimEnd('/');
        }
        else
        {
            var host = config.Host!.Contains(':', StringComparison.Ordinal) ? $"[{config.Host}]" : config.Host;
            DestinationPrefix = $"{(config.UseTls ? "https" : "http")}://{host}:{config.Port}";
            IsHttps = config.UseTls;
            ForwardPrefix = DestinationPrefix;
        }

        if (IsHttps)
        {
            // A TLS endpoint without files needs no loading; one with files carries what the loader read.
            Tls = config.Tls ?? (HasTlsFiles(config) ? null : OutboundTls.WithoutFiles(config));
        }
    }

    public EndpointConfig Config { get; }

    /// <summary>Scheme and authority of the endpoint, e.g. <c>http://10.0.0.2:9370</c>.</summary>
    public string DestinationPrefix { get; }

    /// <summary>What a forwarded request's path and query are appended to: <see cref="DestinationPrefix"/>, plus the
    /// URL's path when an HTTP endpoint is the service itself (not a peer gateway).</summary>
    public string ForwardPrefix { get; }

    /// <summary>Whether requests to this endpoint use TLS (an <c>https://</c> URL, or a TLS gRPC endpoint).</summary>
    public bool IsHttps { get; }

    /// <summary>The TLS client settings of an <see cref="IsHttps"/> endpoint; null for cleartext, or for an endpoint
    /// whose TLS files were not loaded (a table built without <see cref="OutboundTlsLoader"/>).</summary>
    internal OutboundTls? Tls { get; }

    /// <summary><see cref="EndpointConfig.Display"/>, made once (the access log names it on every call).</summary>
    public string Display { get; }

    public override string ToString() => Display;

    private static bool HasTlsFiles(EndpointConfig config) =>
        config.UseKeyStore || config.KeyStoreFile is not null || config.TrustStoreFile is not null || config.CertChainFile is not null
        || config.PrivateKeyFile is not null || config.CaFile is not null;
}
