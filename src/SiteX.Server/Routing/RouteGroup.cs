namespace SiteX.Server.Routing;

/// <summary>The endpoints of one (party, service) route, with round-robin selection.</summary>
public sealed class RouteGroup
{
    private int _next = -1;

    internal RouteGroup(string party, string service, string? sourceParty, RouteDestination[] endpoints, string path)
    {
        Party = party;
        Service = service;
        SourceParty = sourceParty;
        Endpoints = endpoints;
        Path = path;
        AllHttp = endpoints.Length > 0 && Array.TrueForAll(endpoints, e => e.Config.Protocol == EndpointProtocol.Http);
    }

    /// <summary>The party key of the table entry (may be <c>default</c>).</summary>
    public string Party { get; }

    /// <summary>The service key of the table entry (may be <c>default</c>).</summary>
    public string Service { get; }

    public string? SourceParty { get; }

    public IReadOnlyList<RouteDestination> Endpoints { get; }

    /// <summary>Every endpoint is an HTTP <c>url</c>: gRPC calls to it must be converted, not passed through.</summary>
    public bool AllHttp { get; }

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
    internal RouteDestination(EndpointConfig config)
    {
        Config = config;
        if (config.Protocol == EndpointProtocol.Http && config.Url is not null)
        {
            var uri = new Uri(config.Url);
            DestinationPrefix = uri.GetLeftPart(UriPartial.Authority);
        }
        else
        {
            var host = config.Host!.Contains(':', StringComparison.Ordinal) ? $"[{config.Host}]" : config.Host;
            DestinationPrefix = $"{(config.UseTls ? "https" : "http")}://{host}:{config.Port}";
        }
    }

    public EndpointConfig Config { get; }

    /// <summary>Scheme and authority that a forwarded request's path is appended to, e.g. <c>http://10.0.0.2:9370</c>.</summary>
    public string DestinationPrefix { get; }

    public string Display => Config.Display;

    public override string ToString() => Display;
}
