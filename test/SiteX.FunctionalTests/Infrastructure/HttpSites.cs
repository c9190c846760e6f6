namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>How gateway A reaches gateway B in <see cref="HttpSites"/>.</summary>
internal enum PeerPort
{
    /// <summary>B's <c>default</c> in A's table is B's gRPC (h2c) port: <c>{"ip", "port"}</c>.</summary>
    Grpc,
    /// <summary>B's <c>default</c> in A's table is B's HTTP port as an interconnection URL:
    /// <c>{"protocol": "http", "url": "http://127.0.0.1:PORT/v1/interconn/chan/invoke"}</c>.</summary>
    Http,
}

/// <summary>
/// A plain REST service at site B behind two gateways: gateway A (party 9999) routes party 10000 to gateway B, and
/// binds the path prefix <c>/rest/</c> to (10000, web); gateway B (party 10000) routes its own service <c>web</c> to
/// <c>http://127.0.0.1:PORT/base</c>, a real Kestrel HTTP/1.1 service.
/// </summary>
internal sealed record HttpSites(TestGateway A, TestGateway B, RestService Web)
{
    public const string PartyA = "9999";
    public const string PartyB = "10000";
    public const string Service = "web";
    public const string BasePath = "/base";
    public const string BoundPrefix = "/rest/";

    /// <summary>Starts the service and both gateways. <paramref name="webUrl"/> replaces the service's URL in B's
    /// table (e.g. a port nobody listens on); <paramref name="configureB"/> adjusts B's settings.</summary>
    public static async Task<HttpSites> StartAsync(TestCluster cluster, PeerPort peerPort = PeerPort.Grpc, string? webUrl = null,
        Action<SiteX.Server.Configuration.SiteXOptions>? configureB = null)
    {
        var web = await cluster.StartRestServiceAsync("web-b");
        var b = await cluster.StartGatewayAsync("B", PartyB,
            RouteJson.Osx(PartyB, [], [new HttpRoute(PartyB, Service, webUrl ?? $"http://127.0.0.1:{web.Port}{BasePath}")], []),
            configure: configureB);
        var toB = peerPort == PeerPort.Grpc
            ? RouteJson.Osx(PartyA, [new Route(PartyB, "default", b.GrpcPort)], [], [new PathBinding(BoundPrefix, PartyB, Service)])
            : RouteJson.Osx(PartyA, [], [new HttpRoute(PartyB, "default", $"http://127.0.0.1:{b.HttpPort}/v1/interconn/chan/invoke")], [new PathBinding(BoundPrefix, PartyB, Service)]);
        var a = await cluster.StartGatewayAsync("A", PartyA, toB);
        return new HttpSites(a, b, web);
    }

    /// <summary>A URL at gateway A's HTTP port, where site A's applications send their requests.</summary>
    public Uri AtA(string pathAndQuery) => new($"http://127.0.0.1:{A.HttpPort}{pathAndQuery}");

    /// <summary>A request to gateway A for service <c>web</c> of party 10000, named by headers.</summary>
    public HttpRequestMessage Request(HttpMethod method, string pathAndQuery, string party = PartyB, string service = Service)
    {
        var request = new HttpRequestMessage(method, AtA(pathAndQuery));
        request.Headers.Add("x-ptp-target-node-id", party);
        request.Headers.Add("x-ptp-target-component-name", service);
        return request;
    }

    /// <summary>An HTTP client as a site's application would use: no proxy, no decompression, pooled connections.</summary>
    public static HttpClient Client(TimeSpan? timeout = null) => new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
    {
        Timeout = timeout ?? TaskTimeoutExtensions.DefaultTimeoutTimeSpan,
    };
}
