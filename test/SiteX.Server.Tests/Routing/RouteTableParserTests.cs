using SiteX.Server.Routing;

namespace SiteX.Server.Tests.Routing;

public sealed class RouteTableParserTests
{
    // wire-contract.md section 3, "Party A": fateflow locally, the peer's gateway for 10000.
    private const string PartyA = """
        {
          "route_table": {
            "9999": { "fateflow": [ { "ip": "127.0.0.1", "port": 9360 } ] },
            "10000": { "default": [ { "ip": "192.168.0.2", "port": 9370 } ] }
          },
          "self_party": [ "9999" ]
        }
        """;

    // wire-contract.md section 3, "Exchange": one entry per party, pointing at that party's gateway.
    private const string Exchange = """
        {
          "route_table": {
            "9999": { "default": [ { "ip": "10.0.0.1", "port": 9370 } ] },
            "10000": { "default": [ { "ip": "10.0.0.2", "port": 9370 } ] }
          },
          "self_party": [ "1" ]
        }
        """;

    // A party behind an exchange: the "default" party is the exchange, its own fateflow is local.
    private const string PartyBehindExchange = """
        {
          "route_table": {
            "default": { "default": [ { "ip": "10.0.0.100", "port": 9370 } ] },
            "9999": { "fateflow": [ { "ip": "127.0.0.1", "port": 9360 } ] }
          },
          "self_party": [ "9999" ],
          "permission": { "default_allow": true }
        }
        """;

    // The seed document's flat rule list.
    private const string Seed = """
        {"routes": [{"service_name": "fate-serving", "src_site": "siteA", "dst_site": "siteB", "protocol": "grpc", "endpoint": "serving-service:8000"}]}
        """;

    [Fact]
    public void Parse_OsxPartyA_ReadsRoutesAndSelfParty()
    {
        var config = RouteTableParser.Parse(PartyA, out var errors);

        Assert.Empty(errors);
        Assert.NotNull(config);
        Assert.Equal(RouteTableFormat.Osx, config.Format);
        Assert.Equal(["9999"], config.SelfParties);
        var fateflow = Assert.Single(config.Rules, r => r.DstParty == "9999");
        Assert.Equal("fateflow", fateflow.Service);
        Assert.Equal(("127.0.0.1", 9360), (fateflow.Endpoints[0].Host, fateflow.Endpoints[0].Port));
        var peer = Assert.Single(config.Rules, r => r.DstParty == "10000");
        Assert.Equal("default", peer.Service);
        Assert.Equal(EndpointProtocol.Grpc, peer.Endpoints[0].Protocol);
        Assert.False(peer.Endpoints[0].UseTls);
    }

    [Fact]
    public void Lookup_OsxPartyA_FallsBackToDefaultServiceAndFindsLocalFateflow()
    {
        var table = Build(PartyA);

        Assert.True(table.IsSelf("9999"));
        Assert.True(table.TryLookup("9999", "fateflow", null, out var local));
        Assert.Equal("127.0.0.1:9360", local.Group.Pick().Display);
        Assert.True(table.TryLookup("10000", "fateflow", null, out var remote));
        Assert.Equal("default", remote.Group.Service);
        Assert.Equal("192.168.0.2:9370", remote.Group.Pick().Display);
        Assert.False(table.TryLookup("10001", "default", null, out _));
        Assert.False(table.TryLookup("9999", "serving", null, out _));
    }

    [Fact]
    public void Lookup_Exchange_RoutesEachPartyToItsGateway()
    {
        var table = Build(Exchange);

        Assert.True(table.IsSelf("1"));
        Assert.True(table.TryLookup("9999", "default", null, out var a));
        Assert.True(table.TryLookup("10000", "fateflow", null, out var b));
        Assert.Equal("10.0.0.1:9370", a.Group.Pick().Display);
        Assert.Equal("10.0.0.2:9370", b.Group.Pick().Display);
    }

    [Fact]
    public void Lookup_PartyBehindExchange_UnknownPartyGoesToDefaultParty()
    {
        var config = RouteTableParser.Parse(PartyBehindExchange, out var errors);
        Assert.Empty(errors);
        var table = RouteTable.Create(config!, ["0"], 1, "test");

        Assert.True(table.TryLookup("10000", "default", null, out var match));

        Assert.True(match.ViaDefaultParty);
        Assert.Equal("10.0.0.100:9370", match.Group.Pick().Display);
        Assert.True(table.TryLookup("9999", "fateflow", null, out var local));
        Assert.False(local.ViaDefaultParty);
        Assert.Equal(PermissionAction.Allow, config!.Permissions.Default);
        Assert.Equal("permission.default_allow", config.Permissions.DefaultPath);
        Assert.Empty(config.ExtraJson);
    }

    [Fact]
    public void Parse_SeedFlatRules_LimitsRuleToSourceSite()
    {
        var config = RouteTableParser.Parse(Seed, out var errors);

        Assert.Empty(errors);
        Assert.Equal(RouteTableFormat.Flat, config!.Format);
        Assert.Null(config.SelfParties);
        var rule = Assert.Single(config.Rules);
        Assert.Equal(("siteB", "fate-serving", "siteA"), (rule.DstParty, rule.Service, rule.SrcParty));
        Assert.Equal(("serving-service", 8000), (rule.Endpoints[0].Host, rule.Endpoints[0].Port));

        var table = RouteTable.Create(config, ["siteA"], 1, "test");
        Assert.True(table.TryLookup("siteB", "fate-serving", "siteA", out _));
        Assert.False(table.TryLookup("siteB", "fate-serving", "siteC", out _));
        Assert.False(table.TryLookup("siteB", "fate-serving", null, out _));
    }

    [Fact]
    public void Lookup_SourceSpecificRule_WinsOverUnlimitedRule()
    {
        var table = Build("""
            {"self_party": ["siteB"], "routes": [
              {"service_name": "api", "dst_site": "siteB", "endpoint": "general:80"},
              {"service_name": "api", "dst_site": "siteB", "src_site": "siteA", "endpoint": "for-a:80"}
            ]}
            """);

        Assert.True(table.TryLookup("siteB", "api", "siteA", out var forA));
        Assert.True(table.TryLookup("siteB", "api", "siteC", out var general));

        Assert.Equal("for-a:80", forA.Group.Pick().Display);
        Assert.Equal("general:80", general.Group.Pick().Display);
    }

    [Fact]
    public void Parse_EveryOsxEndpointField_IsRead()
    {
        var config = RouteTableParser.Parse("""
            {
              "route_table": {
                "10000": {
                  "createTime": "2024-01-01", "updateTime": "2024-01-02",
                  "default": [ {
                    "ip": "peer.example", "port": "9371", "protocol": "grpc", "useSSL": true, "useKeyStore": false,
                    "certChainFile": "/certs/client.crt", "privateKeyFile": "/certs/client.key", "caFile": "/certs/ca.crt",
                    "keyStoreFile": "/certs/ks.p12", "keyStorePassword": "secret", "trustStoreFile": "/certs/ts.p12",
                    "trustStorePassword": "secret2", "hostname": "peer", "negotiationType": "TLS"
                  } ],
                  "web": [ { "protocol": "http", "url": "https://10.0.0.5:8092/v1/interconn/chan/invoke" } ]
                }
              },
              "self_party": [ "9999" ]
            }
            """, out var errors);

        Assert.Empty(errors);
        var grpc = Assert.Single(config!.Rules, r => r.Service == "default").Endpoints[0];
        Assert.Equal(("peer.example", 9371, true), (grpc.Host, grpc.Port, grpc.UseTls));
        Assert.Equal(("/certs/client.crt", "/certs/client.key", "/certs/ca.crt"), (grpc.CertChainFile, grpc.PrivateKeyFile, grpc.CaFile));
        Assert.Equal(("/certs/ks.p12", "secret", "/certs/ts.p12", "secret2"), (grpc.KeyStoreFile, grpc.KeyStorePassword, grpc.TrustStoreFile, grpc.TrustStorePassword));
        Assert.DoesNotContain("secret", grpc.ToString(), StringComparison.Ordinal);
        var http = Assert.Single(config.Rules, r => r.Service == "web").Endpoints[0];
        Assert.Equal(EndpointProtocol.Http, http.Protocol);
        Assert.Equal("https://10.0.0.5:8092/v1/interconn/chan/invoke", http.Url);
        Assert.Equal(2, config.Rules.Count); // createTime/updateTime are not services
    }

    [Fact]
    public void Parse_BadTable_CollectsEveryErrorWithPathAndFix()
    {
        var config = RouteTableParser.Parse("""
            {
              "route_table": {
                "10000": { "default": [ { "ip": "10.0.0.2", "port": 70000 }, { "port": 9370 } ] },
                "bad party!": { "default": [ { "ip": "10.0.0.3", "port": 1 } ] },
                "10001": { "default": [ ], "web": [ { "protocol": "http" } ], "x": [ { "ip": "a", "port": 1, "protocol": "carrier-pigeon" } ] }
              },
              "self_party": "9999"
            }
            """, out var errors);

        Assert.Null(config);
        var byPath = errors.ToDictionary(e => e.Path, e => e.Message);
        Assert.Contains("1 to 65535", byPath["route_table.10000.default[0].port"], StringComparison.Ordinal);
        Assert.Contains("needs \"ip\"", byPath["route_table.10000.default[1].ip"], StringComparison.Ordinal);
        Assert.Contains("not a valid party id", byPath["route_table.bad party!"], StringComparison.Ordinal);
        Assert.Contains("has no endpoints", byPath["route_table.10001.default"], StringComparison.Ordinal);
        Assert.Contains("needs \"url\"", byPath["route_table.10001.web[0].url"], StringComparison.Ordinal);
        Assert.Contains("is not a protocol", byPath["route_table.10001.x[0].protocol"], StringComparison.Ordinal);
        Assert.Contains("expected an array", byPath["self_party"], StringComparison.Ordinal);
        Assert.Equal(7, errors.Count);
    }

    [Theory]
    [InlineData("", "", "the document is empty")]
    [InlineData("{\"route_table\": {", "", "not valid JSON at line 1")]
    [InlineData("[]", "$", "expected a JSON object")]
    [InlineData("{\"self_party\": [\"9999\"]}", "$", "neither \"route_table\"")]
    [InlineData("{\"route_table\": {}, \"routes\": []}", "$", "keep one of them")]
    [InlineData("{\"route_table\": []}", "route_table", "expected an object of parties")]
    [InlineData("{\"routes\": [{\"dst_site\": \"b\", \"endpoint\": \"h:1\"}]}", "routes[0].service_name", "is required")]
    [InlineData("{\"routes\": [{\"service_name\": \"s\", \"endpoint\": \"h:1\"}]}", "routes[0].dst_site", "is required")]
    [InlineData("{\"routes\": [{\"service_name\": \"s\", \"dst_site\": \"b\"}]}", "routes[0].endpoint", "is required")]
    [InlineData("{\"routes\": [{\"service_name\": \"s\", \"dst_site\": \"b\", \"endpoint\": \"no-port\"}]}", "routes[0].endpoint", "is not host:port")]
    [InlineData("{\"routes\": [{\"service_name\": \"s\", \"dst_site\": \"b\", \"endpoint\": \"h:1\", \"protocol\": \"http\"}]}", "routes[0].endpoint", "is not a URL")]
    [InlineData("{\"routes\": [{\"service_name\": \"s\", \"dst_site\": \"b\", \"endpoint\": \"h:1\", \"grpc_service\": \"a/b\"}]}", "routes[0].grpc_service", "is not a gRPC service name")]
    [InlineData("{\"routes\": [{\"service_name\": \"s\", \"dst_site\": \"b\", \"endpoint\": \"h:1\", \"path_prefix\": \"api\"}]}", "routes[0].path_prefix", "starts with '/'")]
    [InlineData("{\"routes\": [{\"service_name\": \"s\", \"dst_site\": \"b\", \"endpoint\": \"h:1\"}, {\"service_name\": \"s\", \"dst_site\": \"b\", \"endpoint\": \"h:2\"}]}", "routes[1]", "duplicates the route at routes[0]")]
    [InlineData("{\"route_table\": {}, \"self_party\": [\"9999\", \"9999\"]}", "self_party[1]", "listed twice")]
    [InlineData("{\"route_table\": {}, \"service_bindings\": [{\"party\": \"1\"}]}", "service_bindings[0]", "needs \"grpc_service\" or \"path_prefix\"")]
    public void Parse_InvalidDocument_NamesThePathAndTheProblem(string json, string path, string fragment)
    {
        var config = RouteTableParser.Parse(json, out var errors);

        Assert.Null(config);
        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(fragment, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_FlatRuleWithUrlsAndBindings_BuildsEndpointsAndBindings()
    {
        var config = RouteTableParser.Parse("""
            {"self_party": ["10000"], "routes": [
              {"service_name": "test", "dst_site": "10000", "endpoint": ["127.0.0.1:5001", "[::1]:5002"], "grpc_service": "grpc.testing.TestService"},
              {"service_name": "web", "dst_site": "10000", "endpoint": "https://web.internal:8443", "path_prefix": "/api/"},
              {"service_name": "secure", "dst_site": "10000", "protocol": "grpcs", "endpoint": "peer:9371"}
            ]}
            """, out var errors);

        Assert.Empty(errors);
        var test = config!.Rules[0];
        Assert.Equal(["127.0.0.1:5001", "::1:5002"], test.Endpoints.Select(e => e.Display));
        Assert.Equal(EndpointProtocol.Http, config.Rules[1].Endpoints[0].Protocol);
        Assert.True(config.Rules[1].Endpoints[0].UseTls);
        Assert.True(config.Rules[2].Endpoints[0].UseTls);

        var table = RouteTable.Create(config, ["x"], 1, "test");
        Assert.True(table.TryGetGrpcBinding("/grpc.testing.TestService/UnaryCall", out var grpcBinding));
        Assert.Equal(("10000", "test"), (grpcBinding.Party, grpcBinding.Service));
        Assert.False(table.TryGetGrpcBinding("/grpc.testing.Other/UnaryCall", out _));
        Assert.True(table.TryGetPathBinding("/api/v1/items", out var pathBinding));
        Assert.Equal("web", pathBinding.Service);
        Assert.False(table.TryGetPathBinding("/apix", out _));
        Assert.Equal("http://[::1]:5002", ((RouteDestination)table.TryLookupOrThrow("10000", "test").Group.Endpoints[1]).DestinationPrefix);
    }

    [Fact]
    public void Pick_SeveralEndpoints_RoundRobins()
    {
        var table = Build("""{"self_party": ["1"], "routes": [{"service_name": "s", "dst_site": "2", "endpoint": ["a:1", "b:1", "c:1"]}]}""");
        var group = table.TryLookupOrThrow("2", "s").Group;

        var picks = Enumerable.Range(0, 6).Select(_ => group.Pick().Display).ToArray();

        Assert.Equal(["a:1", "b:1", "c:1", "a:1", "b:1", "c:1"], picks);
    }

    [Fact]
    public void TryLookup_WarmTable_AllocatesNothing()
    {
        var table = Build(PartyBehindExchange.Replace("\"9999\": {", "\"10000\": { \"default\": [ { \"ip\": \"10.0.0.2\", \"port\": 9370 } ] }, \"9999\": {", StringComparison.Ordinal));
        var party = "10000";
        var service = "fateflow";
        var path = "/grpc.testing.TestService/UnaryCall";
        table.TryLookup(party, service, null, out _);
        table.TryGetGrpcBinding(path, out _);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            table.TryLookup(party, service, "9999", out var match);
            match.Group.Pick();
            table.TryLookup("unknown", "default", null, out _);
            table.TryGetGrpcBinding(path, out _);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Create_TableWithoutSelfParty_UsesConfiguredSelfParties()
    {
        var config = RouteTableParser.Parse("""{"route_table": {}}""", out _);

        var table = RouteTable.Create(config!, ["9999", "9998"], 1, "test");

        Assert.True(table.IsSelf("9998"));
        Assert.Equal("9999", table.SelfPartyList[0]);
    }

    private static RouteTable Build(string json)
    {
        var config = RouteTableParser.Parse(json, out var errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        return RouteTable.Create(config!, ["0"], 1, "test");
    }

    [Theory]
    [InlineData("a\u0000b")]
    [InlineData("a\nb")]
    [InlineData("../x")]
    public void Parse_HostilePartyOrServiceKey_ErrorPathIsShortAndHasNoControlCharacters(string key)
    {
        var escaped = System.Text.Json.JsonEncodedText.Encode(key + new string('n', 10 * 1024)).ToString();
        var document = $$"""
            { "route_table": { "{{escaped}}": { "default": [ { "ip": "10.0.0.1", "port": 9370 } ] }, "10000": { "{{escaped}}": [ { "ip": "10.0.0.1", "port": 9370 } ] } } }
            """;

        Assert.Null(RouteTableParser.Parse(document, out var errors));

        Assert.Equal(2, errors.Count);
        Assert.All(errors, e =>
        {
            Assert.True(e.ToString().Length < 400, $"{e.ToString().Length} characters");
            Assert.DoesNotContain(e.ToString(), char.IsControl);
        });
    }
}

internal static class RouteTableTestExtensions
{
    public static RouteMatch TryLookupOrThrow(this RouteTable table, string party, string service)
    {
        Assert.True(table.TryLookup(party, service, null, out var match), $"no route for {party}/{service}");
        return match;
    }
}
