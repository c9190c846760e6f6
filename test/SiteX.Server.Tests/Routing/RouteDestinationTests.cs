using SiteX.Server.Routing;

namespace SiteX.Server.Tests.Routing;

/// <summary>What a route's place in the table says about its endpoints (a peer gateway or the service itself), and
/// where forwarded requests go for each.</summary>
public sealed class RouteDestinationTests
{
    private const string Table = """
        {
          "self_party": ["10000"],
          "route_table": {
            "10000":   { "web":     [{ "protocol": "http", "url": "http://127.0.0.1:8080/base/" }],
                         "root":    [{ "protocol": "http", "url": "http://127.0.0.1:8081" }],
                         "deep":    [{ "protocol": "http", "url": "https://svc.example:8443/a/b?ignored=1#too" }],
                         "default": [{ "protocol": "http", "url": "http://127.0.0.1:8082/local" }] },
            "9999":    { "default": [{ "protocol": "http", "url": "http://peer.example:8807/v1/interconn/chan/invoke" }],
                         "fateflow": [{ "ip": "10.0.0.9", "port": 9360 }] },
            "default": { "default": [{ "protocol": "https", "url": "https://exchange.example:8809/v1/interconn/chan/invoke" }] }
          }
        }
        """;

    [Theory]
    [InlineData("10000", "web", false, "http://127.0.0.1:8080/base")]
    [InlineData("10000", "root", false, "http://127.0.0.1:8081")]
    [InlineData("10000", "deep", false, "https://svc.example:8443/a/b")]
    [InlineData("10000", "default", false, "http://127.0.0.1:8082/local")]
    [InlineData("9999", "default", true, "http://peer.example:8807")]
    [InlineData("9999", "anything", true, "http://peer.example:8807")]
    [InlineData("9999", "fateflow", false, "http://10.0.0.9:9360")]
    [InlineData("12345", "web", true, "https://exchange.example:8809")]
    public void ForwardPrefix_ServiceUrlKeepsItsPath_PeerGatewayUrlKeepsOnlyItsAuthority(string party, string service, bool peerGateway, string prefix)
    {
        var config = RouteTableParser.Parse(Table, out var errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        var table = RouteTable.Create(config!, ["0"], 1, "test");

        Assert.True(table.TryLookup(party, service, null, out var match));
        var endpoint = match.Group.Endpoints[0];

        Assert.Equal(peerGateway, match.Group.IsPeerGateway);
        Assert.Equal(prefix, endpoint.ForwardPrefix);
        Assert.Equal(prefix.StartsWith("https://", StringComparison.Ordinal), endpoint.IsHttps);
        Assert.Equal(new Uri(prefix).GetLeftPart(UriPartial.Authority), endpoint.DestinationPrefix);
    }

    [Theory]
    [InlineData("default", "default", true)]
    [InlineData("default", "web", true)]
    [InlineData("9999", "default", true)]
    [InlineData("9999", "fateflow", false)]
    [InlineData("10000", "default", false)]
    [InlineData("10000", "web", false)]
    public void LeadsToPeerGateway_DependsOnPartyAndServiceKeys(string party, string service, bool expected)
    {
        Assert.Equal(expected, RouteGroup.LeadsToPeerGateway(party, service, new HashSet<string>(["10000"])));
    }
}
