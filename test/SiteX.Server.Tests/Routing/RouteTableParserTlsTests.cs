using SiteX.Server.Routing;

namespace SiteX.Server.Tests.Routing;

/// <summary>The TLS fields of route endpoints: OSX's spellings, SiteX's pinned party, and what is refused.</summary>
public sealed class RouteTableParserTlsTests
{
    private static string Osx(string endpointJson) =>
        $$"""{ "route_table": { "10000": { "default": [ {{endpointJson}} ] } }, "self_party": [ "9999" ] }""";

    [Theory]
    [InlineData("insecure", "true")]
    [InlineData("verify", "false")]
    [InlineData("insecureSkipVerify", "true")]
    [InlineData("skip_verify", "true")]
    [InlineData("hostnameVerification", "false")]
    [InlineData("trustAll", "true")]
    [InlineData("ssl-verify", "false")]
    public void Parse_SwitchThatWouldTurnOffVerification_IsRejectedNamingTheFieldAndWhy(string key, string value)
    {
        var config = RouteTableParser.Parse(Osx($$"""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "{{key}}": {{value}} }"""), out var errors);

        Assert.Null(config);
        var error = Assert.Single(errors);
        Assert.Equal($"route_table.10000.default[0].{key}", error.Path);
        Assert.Contains("would turn off checking the peer's certificate", error.Message, StringComparison.Ordinal);
        Assert.Contains("SiteX has no such setting", error.Message, StringComparison.Ordinal);
        Assert.Contains("intercepted", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"caFile\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_FlatRuleWithVerificationSwitch_IsRejected()
    {
        var config = RouteTableParser.Parse("""
            { "routes": [ { "service_name": "default", "dst_site": "10000", "endpoint": "grpcs://10.0.0.2:9371", "tls_verify": false } ] }
            """, out var errors);

        Assert.Null(config);
        Assert.Equal("routes[0].tls_verify", Assert.Single(errors).Path);
    }

    [Fact]
    public void Parse_OsxAdminApiSpellings_KeyStoreFilePathAndTrustStoreFilePath_AreRead()
    {
        var config = RouteTableParser.Parse(Osx("""
            { "ip": "10.0.0.2", "port": 9371, "useSSL": true, "useKeyStore": true, "keyStoreFilePath": "/c/ks.p12", "keyStorePassword": "a",
              "trustStoreFilePath": "/c/ts.p12", "trustStorePassword": "b" }
            """), out var errors);

        Assert.Empty(errors);
        var endpoint = config!.Rules[0].Endpoints[0];
        Assert.Equal(("/c/ks.p12", "/c/ts.p12"), (endpoint.KeyStoreFile, endpoint.TrustStoreFile));
    }

    [Fact]
    public void Parse_BothSpellingsNamingDifferentFiles_IsAnError()
    {
        RouteTableParser.Parse(Osx("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "useKeyStore": true, "keyStoreFile": "/a.p12", "keyStoreFilePath": "/b.p12" }"""), out var errors);

        Assert.Contains("keep one of them", Assert.Single(errors, e => e.Path == "route_table.10000.default[0].keyStoreFilePath").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PeerPartyAndIdentity_AreRead_EmptyStringsCountAsAbsent()
    {
        var config = RouteTableParser.Parse(Osx("""
            { "ip": "10.0.0.2", "port": 9371, "useSSL": true, "caFile": "/c/ca.crt", "peer_party": "10000", "peer_identity": "common_name",
              "certChainFile": "", "privateKeyFile": "", "keyStoreFile": "", "hostname": "" }
            """), out var errors);

        Assert.Empty(errors);
        var endpoint = config!.Rules[0].Endpoints[0];
        Assert.Equal(("10000", PeerIdentitySource.CommonName), (endpoint.PeerParty, endpoint.PeerIdentity));
        Assert.Null(endpoint.CertChainFile);
        Assert.Null(endpoint.KeyStoreFile);
        Assert.Null(endpoint.Hostname);
    }

    [Theory]
    [InlineData("""{ "ip": "10.0.0.2", "port": 9370, "caFile": "/c/ca.crt" }""", "route_table.10000.default[0]", "set \"useSSL\": true")]
    [InlineData("""{ "ip": "10.0.0.2", "port": 9370, "useSSL": false, "certChainFile": "/c/a.crt", "privateKeyFile": "/c/a.key" }""", "route_table.10000.default[0]", "plain text")]
    [InlineData("""{ "ip": "10.0.0.2", "port": 9370, "peer_party": "10000" }""", "route_table.10000.default[0]", "peer_party")]
    [InlineData("""{ "protocol": "http", "url": "http://10.0.0.2:8807/v1/interconn/chan/invoke", "useSSL": true }""", "route_table.10000.default[0].url", "write https://")]
    [InlineData("""{ "protocol": "http", "url": "http://10.0.0.2:8807/v1/interconn/chan/invoke", "caFile": "/c/ca.crt" }""", "route_table.10000.default[0]", "https:// url")]
    [InlineData("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "peer_identity": "serial" }""", "route_table.10000.default[0].peer_identity", "uri_san")]
    [InlineData("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "peer_party": "bad party" }""", "route_table.10000.default[0].peer_party", "valid party id")]
    [InlineData("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "hostname": "not a host!" }""", "route_table.10000.default[0].hostname", "host name")]
    public void Parse_TlsFieldsThatCannotTakeEffect_AreErrorsWithPathAndFix(string endpoint, string path, string fix)
    {
        var config = RouteTableParser.Parse(Osx(endpoint), out var errors);

        Assert.Null(config);
        var error = Assert.Single(errors);
        Assert.Equal(path, error.Path);
        Assert.Contains(fix, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_HttpsUrl_IsTlsWithoutUseSsl()
    {
        var config = RouteTableParser.Parse(Osx("""{ "protocol": "http", "url": "https://10.0.0.2:8443/v1/interconn/chan/invoke", "caFile": "/c/ca.crt" }"""), out var errors);

        Assert.Empty(errors);
        Assert.True(config!.Rules[0].Endpoints[0].UseTls);
    }

    [Fact]
    public void Parse_FlatRuleTlsFields_ApplyToEachEndpoint()
    {
        var config = RouteTableParser.Parse("""
            { "routes": [ { "service_name": "default", "dst_site": "10000", "endpoint": ["grpcs://10.0.0.2:9371", "grpcs://10.0.0.3:9371"],
                            "certChainFile": "/c/a.crt", "privateKeyFile": "/c/a.key", "caFile": "/c/ca.crt", "peer_party": "10000" } ] }
            """, out var errors);

        Assert.Empty(errors);
        Assert.All(config!.Rules[0].Endpoints, e => Assert.Equal(("/c/a.crt", "/c/ca.crt", "10000"), (e.CertChainFile, e.CaFile, e.PeerParty)));
    }

    [Fact]
    public void Parse_FlatRuleTlsFieldsOnPlainEndpoints_OneErrorForTheRule()
    {
        RouteTableParser.Parse("""
            { "routes": [ { "service_name": "default", "dst_site": "10000", "endpoint": ["10.0.0.2:9370", "10.0.0.3:9370"], "caFile": "/c/ca.crt" } ] }
            """, out var errors);

        var error = Assert.Single(errors);
        Assert.Equal("routes[0]", error.Path);
        Assert.Contains("grpcs://", error.Message, StringComparison.Ordinal);
    }
}
