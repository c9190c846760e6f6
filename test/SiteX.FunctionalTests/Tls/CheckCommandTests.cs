using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using SiteX.Cli;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol.Ptp;
using SiteX.Server.Security;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Tls;

/// <summary>
/// <c>sitex check PARTY</c>, run in process against real gateways (plain gRPC and HTTP), TLS stand-ins and fakes:
/// all green when the route works, and for each broken step the ✗ line that names it and why.
/// </summary>
public sealed class CheckCommandTests(ITestOutputHelper output)
{
    private const string PartyA = "9999";
    private const string PartyB = "10000";

    [Fact]
    public async Task Check_SiteXPeerOverPlainGrpc_AllStepsPass()
    {
        await using var cluster = new TestCluster(output);
        var b = await cluster.StartGatewayAsync("B", PartyB, RouteJson.Osx(PartyB));

        var (exit, text) = await CheckAsync(cluster, Table(new JsonObject { ["ip"] = "127.0.0.1", ["port"] = b.GrpcPort }));

        Assert.Equal(0, exit);
        AssertLine(text, "✓ route: party 10000 service default -> route_table.10000.default: 1 endpoint(s), leading to a peer gateway");
        AssertLine(text, "✓ DNS: 127.0.0.1 is an IP address");
        AssertLine(text, $"✓ TCP: connected to 127.0.0.1:{b.GrpcPort} in ");
        AssertLine(text, "– TLS: not used: the route is plain text");
        AssertLine(text, "✓ round trip: invoke /sitex/ping answered \"pong from 10000\"");
        AssertLine(text, "all steps passed");
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Check_SiteXPeerOverHttpUrl_AllStepsPass()
    {
        await using var cluster = new TestCluster(output);
        var b = await cluster.StartGatewayAsync("B", PartyB, RouteJson.Osx(PartyB));

        var (exit, text) = await CheckAsync(cluster, Table(new JsonObject { ["protocol"] = "http", ["url"] = $"http://127.0.0.1:{b.HttpPort}/v1/interconn/chan/invoke" }));

        Assert.Equal(0, exit);
        AssertLine(text, "✓ round trip: invoke /sitex/ping answered \"pong from 10000\"");
    }

    [Fact]
    public async Task Check_ThroughAnExchange_PongComesFromTheTargetParty()
    {
        await using var cluster = new TestCluster(output);
        var b = await cluster.StartGatewayAsync("B", PartyB, RouteJson.Osx(PartyB));
        var exchange = await cluster.StartGatewayAsync("X", "1", RouteJson.Osx("1", new Route(PartyB, "default", b.GrpcPort)));
        var table = new JsonObject
        {
            ["route_table"] = new JsonObject { ["default"] = new JsonObject { ["default"] = new JsonArray(new JsonObject { ["ip"] = "127.0.0.1", ["port"] = exchange.GrpcPort }) } },
            ["self_party"] = new JsonArray(PartyA),
        }.ToJsonString();

        var (exit, text) = await CheckAsync(cluster, table);

        Assert.Equal(0, exit);
        AssertLine(text, "(the \"default\" party: an exchange that relays to 10000)");
        AssertLine(text, "✓ round trip: invoke /sitex/ping answered \"pong from 10000\"");
    }

    [Fact]
    public async Task Check_MutualTlsPeer_EveryTlsStepPasses()
    {
        await using var cluster = new TestCluster(output);
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        var (cert, key) = pki.WritePem(pki.Site(PartyA), "client");
        await using var peer = await StartPeerAsync(pki.Site(PartyB));

        var (exit, text) = await CheckAsync(cluster, Table(Tls(peer.Port, ("certChainFile", cert), ("privateKeyFile", key), ("caFile", pki.CaFile), ("peer_party", PartyB))));

        Assert.Equal(0, exit);
        AssertLine(text, "· TLS settings: client certificate CN=9999");
        AssertLine(text, "✓ TLS handshake: TLS 1.3, ALPN h2");
        AssertLine(text, "✓ certificate chain: CN=10000 <- CN=test CA (trusted by caFile ");
        AssertLine(text, "✓ host name: the certificate carries 127.0.0.1");
        AssertLine(text, "✓ peer party: the certificate names party 10000");
        AssertLine(text, "✓ round trip: invoke /sitex/ping answered \"pong from 10000\"");
        Assert.Single(peer.Requests.Select(r => r.ConnectionId).Distinct()); // one connection for every step
    }

    [Fact]
    public async Task Check_HttpsUrlToAMutualTlsPeer_EveryStepPassesOverTheInterconnectionInvoke()
    {
        await using var cluster = new TestCluster(output);
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        var (cert, key) = pki.WritePem(pki.Site(PartyA), "client");
        await using var peer = await StartPeerAsync(pki.Site(PartyB));

        var (exit, text) = await CheckAsync(cluster, Table(new JsonObject
        {
            ["protocol"] = "http", ["url"] = $"https://localhost:{peer.Port}/v1/interconn/chan/invoke",
            ["certChainFile"] = cert, ["privateKeyFile"] = key, ["caFile"] = pki.CaFile, ["peer_party"] = PartyB,
        }));

        Assert.Equal(0, exit);
        AssertLine(text, "(HTTP, TLS)");
        AssertLine(text, "✓ DNS: localhost -> ");
        AssertLine(text, "✓ host name: the certificate carries localhost");
        AssertLine(text, "✓ round trip: invoke /sitex/ping answered \"pong from 10000\"");
        Assert.Contains(peer.Requests, r => r.Path == "/v1/interconn/chan/invoke" && r.ClientThumbprint is not null);
    }

    [Fact]
    public async Task Check_NoRoute_SaysWhatTheTableLacks()
    {
        await using var cluster = new TestCluster(output);

        var (exit, text) = await CheckAsync(cluster, Table(new JsonObject { ["ip"] = "127.0.0.1", ["port"] = 1 }), party: "20000");

        Assert.Equal(1, exit);
        AssertLine(text, "✗ route: no route to party 20000 service default: the table has neither party \"20000\" nor a \"default\" party");
    }

    [Fact]
    public async Task Check_NameThatDoesNotResolve_FailsAtDns()
    {
        await using var cluster = new TestCluster(output);

        var (exit, text) = await CheckAsync(cluster, Table(new JsonObject { ["ip"] = "gateway.sitex-check.invalid", ["port"] = 9370 }));

        Assert.Equal(1, exit);
        AssertLine(text, "✗ DNS: gateway.sitex-check.invalid does not resolve");
        Assert.DoesNotContain("TCP", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_NothingListening_FailsAtTcpWithConnectionRefused()
    {
        await using var cluster = new TestCluster(output);
        var port = FreePort();

        var (exit, text) = await CheckAsync(cluster, Table(new JsonObject { ["ip"] = "127.0.0.1", ["port"] = port }));

        Assert.Equal(1, exit);
        AssertLine(text, $"✗ TCP: 127.0.0.1:{port} refused the connection: nothing listens on port {port} there");
    }

    [Fact]
    public async Task Check_PlainTextRouteToATlsPort_SaysThePortSpeaksTls()
    {
        await using var cluster = new TestCluster(output);
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        await using var peer = await StartPeerAsync(pki.Site(PartyB), requireClientCertificate: false);

        var (exit, text) = await CheckAsync(cluster, Table(new JsonObject { ["ip"] = "127.0.0.1", ["port"] = peer.Port }));

        Assert.Equal(1, exit);
        AssertLine(text, $"✗ round trip: the peer closed the plain-text connection without answering, and on a second try it completes a TLS handshake presenting a certificate for CN=10000");
        AssertLine(text, $"port {peer.Port} speaks TLS, but the route is plain text. Set \"useSSL\": true");
    }

    [Fact]
    public async Task Check_TlsRouteToAPlainTextPort_SaysThePortIsNotTls()
    {
        await using var cluster = new TestCluster(output);
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        var b = await cluster.StartGatewayAsync("B", PartyB, RouteJson.Osx(PartyB));

        var (exit, text) = await CheckAsync(cluster, Table(Tls(b.GrpcPort, ("caFile", pki.CaFile))));

        Assert.Equal(1, exit);
        AssertLine(text, "✗ TLS handshake: TLS handshake with 127.0.0.1:");
        // A SiteX plain port closes a connection that starts with a TLS ClientHello; a second look then finds h2c.
        AssertLine(text, "it is a plain-text port");
        AssertLine(text, "TLS port");
    }

    [Fact]
    public async Task Check_PeerCertificateFromAnotherCa_FailsAtTheChainNamingTheCaFile()
    {
        await using var cluster = new TestCluster(output);
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        await using var peer = await StartPeerAsync(OutboundPki.Site(pki.OtherCa, PartyB), requireClientCertificate: false);

        var (exit, text) = await CheckAsync(cluster, Table(Tls(peer.Port, ("caFile", pki.CaFile))));

        Assert.Equal(1, exit);
        AssertLine(text, "✗ TLS handshake: aborted by this side: the peer's certificate failed a check below");
        AssertLine(text, $"✗ certificate chain: CN=10000, O=SiteX site 10000: it is issued by \"CN=other CA, O=SiteX test CA\", which is not a CA in caFile {pki.CaFile}");
        AssertLine(text, "✓ host name");
        Assert.Empty(peer.Requests);
    }

    [Fact]
    public async Task Check_PeerCertificateForAnotherHost_FailsAtTheHostName()
    {
        await using var cluster = new TestCluster(output);
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        await using var peer = await StartPeerAsync(pki.Site(PartyB, dns: ["gateway.party10000.example"], addresses: []), requireClientCertificate: false);

        var (exit, text) = await CheckAsync(cluster, Table(Tls(peer.Port, ("caFile", pki.CaFile))));

        Assert.Equal(1, exit);
        AssertLine(text, "✓ certificate chain");
        AssertLine(text, "✗ host name: the certificate is for DNS gateway.party10000.example, URI urn:sitex:party:10000, not 127.0.0.1; if it is issued for another name than the route's address, set \"hostname\" to that name");
    }

    [Fact]
    public async Task Check_PeerCertificateOfAnotherParty_FailsAtThePinnedParty()
    {
        await using var cluster = new TestCluster(output);
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        await using var peer = await StartPeerAsync(pki.Site("10001"), requireClientCertificate: false);

        var (exit, text) = await CheckAsync(cluster, Table(Tls(peer.Port, ("caFile", pki.CaFile), ("peer_party", PartyB))));

        Assert.Equal(1, exit);
        AssertLine(text, "✓ host name");
        AssertLine(text, "✗ peer party: the certificate names party 10001 in its URI name urn:sitex:party:<id>, not 10000 (the route's \"peer_party\")");
    }

    [Fact]
    public async Task Check_PeerRefusesTheClientCertificate_RoundTripSaysSo()
    {
        await using var cluster = new TestCluster(output);
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        var (cert, key) = pki.WritePem(pki.Site(PartyA), "client");
        await using var peer = await StartPeerAsync(pki.Site(PartyB));
        peer.AcceptClientCertificate = _ => false;

        var (exit, text) = await CheckAsync(cluster, Table(Tls(peer.Port, ("certChainFile", cert), ("privateKeyFile", key), ("caFile", pki.CaFile))));

        Assert.Equal(1, exit);
        Assert.Contains("the peer most likely refused this gateway's client certificate (CN=9999", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_JavaOsxPeer_ReachedAGatewayThatIsNotSiteX()
    {
        await using var cluster = new TestCluster(output);
        var osx = await cluster.StartFakeFateAsync("osx");

        var (exit, text) = await CheckAsync(cluster, Table(new JsonObject { ["ip"] = "127.0.0.1", ["port"] = osx.Port }));

        Assert.Equal(0, exit);
        AssertLine(text, "✓ round trip: reached a gateway that is not SiteX (OSX?)");
    }

    [Fact]
    public async Task Check_RouteTableWithABadTlsFile_ListsTheErrorWithItsPath()
    {
        await using var cluster = new TestCluster(output);
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        var (cert, _) = pki.WritePem(pki.Site(PartyA), "client");
        var (_, otherKey) = pki.WritePem(pki.Site(PartyA), "other");

        var (exit, text) = await CheckAsync(cluster, Table(Tls(1, ("certChainFile", cert), ("privateKeyFile", otherKey), ("caFile", pki.CaFile))));

        Assert.Equal(1, exit);
        AssertLine(text, "error(s); `sitex serve` would not start with it");
        AssertLine(text, "route_table.10000.default[0].privateKeyFile: does not belong to the certificate in certChainFile");
    }

    [Fact]
    public async Task Ping_InvokedThroughGatewayA_IsAnsweredByTheTargetPartysGateway()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);
        var client = new PrivateTransferProtocol.PrivateTransferProtocolClient(cluster.Channel(sites.A));
        var headers = new Grpc.Core.Metadata
        {
            { "x-ptp-tech-provider-code", "FATE" },
            { "x-ptp-target-node-id", PartyB },
            { "x-ptp-uri", "grpcs://fedai.org/sitex/ping" },
        };

        var reply = await client.invokeAsync(new Inbound(), headers, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal(("E0000000000", "pong from 10000"), (reply.Code, reply.Message));
        cluster.AssertNoUnexpectedErrors();
    }

    [Theory]
    [InlineData("grpc")]
    [InlineData("https")]
    public async Task Check_TokenPeerOverOneWayTls_SignsThePing_AndWithoutAKeySaysTheCredentialsWereRefused(string transport)
    {
        // Arrange: B takes peers without a client certificate if they sign with the key it shares with 9999.
        await using var cluster = new TestCluster(output);
        var secret = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var site = await Security.TlsSite.StartAsync(cluster, (tls, _, _) => tls.ClientCertificate = SiteX.Server.Configuration.ClientCertificateRequirement.Optional,
            options => options.Tokens.Keys = [new PeerKeyConfig { Peer = PartyA, Id = "k1", Secret = secret }]);
        var endpoint = transport == "grpc"
            ? Tls(site.B.GrpcTlsPort, ("caFile", site.CaFile))
            : new JsonObject { ["protocol"] = "http", ["url"] = $"https://127.0.0.1:{site.B.HttpsPort}/v1/interconn/chan/invoke", ["caFile"] = site.CaFile };
        var config = cluster.Temp.Combine($"sitex-{transport}.json");
        await File.WriteAllTextAsync(config, new JsonObject
        {
            ["tokens"] = new JsonObject { ["keys"] = new JsonArray(new JsonObject { ["peer"] = PartyB, ["id"] = "k1", ["secret"] = secret }) },
        }.ToJsonString());

        // Act
        var (signedExit, signed) = await CheckAsync(cluster, Table(endpoint), extra: ["--config", config]);
        var (unsignedExit, unsigned) = await CheckAsync(cluster, Table(endpoint.DeepClone().AsObject()));

        // Assert
        Assert.Equal(0, signedExit);
        AssertLine(signed, "✓ token: the round trip carries a request token signed with the key shared with party 10000");
        AssertLine(signed, "✓ round trip: invoke /sitex/ping answered \"pong from 10000\"");
        Assert.Equal(1, unsignedExit);
        AssertLine(unsigned, "✗ round trip: the peer gateway refused this site: its credentials (client certificate, request token) or the peer's permission rules: it answered E0000000403 \"SiteX gateway 10000: the call proves no party");
    }

    private async Task<(int Exit, string Text)> CheckAsync(TestCluster cluster, string table, string party = PartyB, string[]? extra = null)
    {
        var file = cluster.Temp.Combine($"check-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, table);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await SiteXCommandLine.InvokeAsync(["check", party, "--route-table", file, "--timeout", "10", .. extra ?? []], stdout, stderr).DefaultTimeout();
        var text = stdout.ToString() + stderr;
        output.WriteLine($"sitex check {party} -> exit {exit}{Environment.NewLine}{text}");
        return (exit, text);
    }

    private static void AssertLine(string text, string expected) =>
        Assert.True(text.Contains(expected, StringComparison.Ordinal), $"expected \"{expected}\" in:{Environment.NewLine}{text}");

    private Task<TlsPeer> StartPeerAsync(X509Certificate2 serverCertificate, bool requireClientCertificate = true) =>
        TlsPeer.StartAsync(serverCertificate, PartyB, requireClientCertificate, logging =>
            logging.AddProvider(new PrefixedLoggerProvider(new XunitLoggerProvider(output, LogLevel.Warning), "tls-peer")));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static JsonObject Tls(int port, params (string Name, JsonNode? Value)[] fields)
    {
        var endpoint = new JsonObject { ["ip"] = "127.0.0.1", ["port"] = port, ["useSSL"] = true };
        foreach (var (name, value) in fields)
        {
            endpoint[name] = value;
        }

        return endpoint;
    }

    private static string Table(JsonObject endpoint) => new JsonObject
    {
        ["route_table"] = new JsonObject { [PartyB] = new JsonObject { ["default"] = new JsonArray(endpoint) } },
        ["self_party"] = new JsonArray(PartyA),
    }.ToJsonString();
}
