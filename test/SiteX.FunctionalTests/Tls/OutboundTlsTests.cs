using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol.Ptp;
using SiteX.Samples.V1;
using SiteX.Server.Forwarding;
using SiteX.Server.Routing;
using SiteX.Server.Security;
using Xunit.Abstractions;
using Metadata = Grpc.Core.Metadata;

namespace SiteX.FunctionalTests.Tls;

/// <summary>
/// Outbound TLS per route: gateway A (party 9999) calls the TLS port of party 10000's gateway (a <see cref="TlsPeer"/>
/// stand-in with a real Kestrel TLS listener) with the client certificate and CA its route names. Certificates are
/// made at run time in the test's temp directory.
/// </summary>
public class OutboundTlsTests(ITestOutputHelper output)
{
    /// <summary>The forwarding engine of the gateways; null: the default (<see cref="YarpOutboundTlsTests"/> runs these
    /// on YARP).</summary>
    protected virtual SiteX.Server.Configuration.ForwardingEngine? Engine => null;

    /// <summary>What serves HTTP/2 on the gateways' gRPC ports; null: the default.</summary>
    protected virtual SiteX.Server.Configuration.Http2ServerEngine? Http2Server => null;

    private TestCluster NewCluster() => new(output) { Engine = Engine, Http2Server = Http2Server };

    /// <summary>TLS clients (YARP's handlers, or the relay's connection pools) in use and retired.</summary>
    private static (int Active, int Retired) TlsClients(TestGateway gateway)
    {
        if (gateway.Server.Options.ForwardingEngine == SiteX.Server.Configuration.ForwardingEngine.H2Relay)
        {
            var relay = gateway.Server.Services.GetRequiredService<SiteX.Server.Forwarding.H2.H2Relay>();
            return (relay.ActiveTlsPools, relay.RetiredPools);
        }

        var pool = gateway.Server.Services.GetRequiredService<NextHopClientPool>();
        return (pool.ActiveTlsClients, pool.RetiredTlsClients);
    }

    private const string PartyA = "9999";
    private const string PartyB = "10000";
    private const string EchoPath = "/sitex.samples.v1.Echo/Unary";

    [Theory]
    [InlineData("pkcs8")]
    [InlineData("pkcs1")]
    [InlineData("pkcs12")]
    public async Task MutualTls_ClientCertificateFromRoute_IsPresentedToThePeer(string format)
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        using var client = pki.Site(PartyA, algorithm: format == "pkcs1" ? SiteKeyAlgorithm.Rsa2048 : SiteKeyAlgorithm.EcdsaP256);
        JsonObject endpoint;
        if (format == "pkcs12")
        {
            var trustStore = cluster.Temp.Combine("pki", "trust.p12");
            using var caPublic = X509CertificateLoader.LoadCertificate(pki.Ca.RawData);
            File.WriteAllBytes(trustStore, new X509Certificate2Collection(caPublic).Export(X509ContentType.Pkcs12, "trust-secret")!);
            endpoint = Endpoint(0, ("useKeyStore", true), ("keyStoreFile", pki.WritePkcs12(client, "client", "store-secret")), ("keyStorePassword", "store-secret"),
                ("trustStoreFile", trustStore), ("trustStorePassword", "trust-secret"), ("peer_party", PartyB));
        }
        else
        {
            var (cert, key) = pki.WritePem(client, "client", format == "pkcs1" ? PemKeyFormat.Pkcs1 : PemKeyFormat.Pkcs8);
            endpoint = Endpoint(0, ("certChainFile", cert), ("privateKeyFile", key), ("caFile", pki.CaFile), ("peer_party", PartyB));
        }

        await using var peer = await StartPeerAsync(pki.Site(PartyB));
        endpoint["port"] = peer.Port;
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(endpoint));

        var reply = await cluster.EchoClient(a).UnaryAsync(new EchoRequest { Text = "over mTLS" }, TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal("over mTLS", reply.Text);
        Assert.Equal([client.Thumbprint], peer.ClientThumbprints(EchoPath));
        Assert.Equal("HTTP/2", peer.Requests.Single().Protocol);
        cluster.AssertNoUnexpectedErrors();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ServerCertificateFromUnknownCa_CallFailsUnreachable_NothingDelivered(bool routeNamesCaFile)
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        await using var peer = await StartPeerAsync(OutboundPki.Site(pki.OtherCa, PartyB), requireClientCertificate: false);
        var endpoint = routeNamesCaFile ? Endpoint(peer.Port, ("caFile", pki.CaFile)) : Endpoint(peer.Port);
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(endpoint));

        var ex = await Assert.ThrowsAsync<RpcException>(() => cluster.EchoClient(a)
            .UnaryAsync(new EchoRequest { Text = "x" }, TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());

        output.WriteLine($"caller sees: {ex.StatusCode} \"{ex.Status.Detail}\"");
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal("next_hop_unreachable", ex.Trailers.GetValue("x-sitex-error"));
        Assert.Contains($"TLS handshake with the next gateway for party {PartyB} failed: its certificate is not trusted", ex.Status.Detail, StringComparison.Ordinal);
        Leaks.AssertNone(ex.Status.Detail, peer.Port);
        Assert.Empty(peer.Requests);
        var logged = Assert.Single(a.Logs.Entries, e => e.EventId.Id == 1120);
        Assert.Contains("other CA", logged.Message, StringComparison.Ordinal);
        Assert.Contains(routeNamesCaFile ? pki.CaFile : "the system's trusted roots", logged.Message, StringComparison.Ordinal);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task ServerCertificateForAnotherHost_Fails_AndTheHostnameFieldAcceptsItWithThatSni()
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        await using var peer = await StartPeerAsync(pki.Site(PartyB, dns: ["gateway.party10000.example"], addresses: []), requireClientCertificate: false);
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(Endpoint(peer.Port, ("caFile", pki.CaFile))));
        var echo = cluster.EchoClient(a);

        var ex = await Assert.ThrowsAsync<RpcException>(() => echo.UnaryAsync(new EchoRequest(), TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("does not match the host", ex.Status.Detail, StringComparison.Ordinal);
        var logged = Assert.Single(a.Logs.Entries, e => e.EventId.Id == 1120).Message;
        Assert.Contains("certificate does not match host 127.0.0.1: the certificate is for DNS gateway.party10000.example", logged, StringComparison.Ordinal);
        Assert.Empty(peer.Requests);

        var applied = a.WaitForTableAsync(t => t.Version > 1);
        a.WriteRouteTable(Table(Endpoint(peer.Port, ("caFile", pki.CaFile), ("hostname", "gateway.party10000.example"))));
        await applied.DefaultTimeout();
        var reply = await echo.UnaryAsync(new EchoRequest { Text = "named" }, TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal("named", reply.Text);
        Assert.Single(peer.Requests);
        Assert.Equal("gateway.party10000.example", peer.ServerNames.Last());
        cluster.AssertNoUnexpectedErrors();
    }

    [Theory]
    [InlineData("uri_san", "10001", false)]
    [InlineData("common_name", "10001", false)]
    [InlineData("common_name", PartyB, true)]
    [InlineData(null, PartyB, true)]
    public async Task PinnedPeerParty_OnlyACertificateNamingThatPartyIsAccepted(string? identity, string certificateParty, bool accepted)
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        await using var peer = await StartPeerAsync(pki.Site(certificateParty), requireClientCertificate: false);
        var endpoint = Endpoint(peer.Port, ("caFile", pki.CaFile), ("peer_party", PartyB));
        if (identity is not null)
        {
            endpoint["peer_identity"] = identity;
        }

        var a = await cluster.StartGatewayAsync("A", PartyA, Table(endpoint));
        var call = cluster.EchoClient(a).UnaryAsync(new EchoRequest { Text = "pinned" }, TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync;

        if (accepted)
        {
            Assert.Equal("pinned", (await call.DefaultTimeout()).Text);
        }
        else
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => call.DefaultTimeout());
            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
            Assert.Contains($"its certificate does not name party {PartyB}", ex.Status.Detail, StringComparison.Ordinal);
            Assert.Contains($"names party {certificateParty}", Assert.Single(a.Logs.Entries, e => e.EventId.Id == 1120).Message, StringComparison.Ordinal);
            Assert.Empty(peer.Requests);
        }

        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task SwitchToTurnOffVerification_InAnEdit_IsRejectedNamingTheField_AndTheOldTableKeepsServing()
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        await using var peer = await StartPeerAsync(pki.Site(PartyB), requireClientCertificate: false);
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(Endpoint(peer.Port, ("caFile", pki.CaFile))));
        var rejected = TestTcs.Create<IReadOnlyList<RouteTableError>>();
        a.Routes.EditRejected += errors => rejected.TrySetResult(errors);

        a.WriteRouteTable(Table(Endpoint(peer.Port, ("caFile", pki.CaFile), ("insecure", true))));
        var errors = await rejected.Task.DefaultTimeout();

        var error = Assert.Single(errors);
        Assert.Equal("route_table.10000.default[0].insecure", error.Path);
        Assert.Contains("SiteX has no such setting", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, a.Routes.Current.Version);
        var reply = await cluster.EchoClient(a).UnaryAsync(new EchoRequest { Text = "still checked" }, TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        Assert.Equal("still checked", reply.Text);
        await Assert.ThrowsAsync<RouteTableException>(() => cluster.StartGatewayAsync("A2", PartyA, Table(Endpoint(peer.Port, ("caFile", pki.CaFile), ("verify", false)))));
        cluster.AssertNoUnexpectedErrors(1001);
    }

    [Fact]
    public async Task ClientCertificateFilesReplaced_NewConnectionsPresentTheNewCertificate_OldHandlerIsRetired()
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        using var first = pki.Site(PartyA);
        using var second = pki.Site(PartyA);
        var (cert, key) = pki.WritePem(first, "client");
        await using var peer = await StartPeerAsync(pki.Site(PartyB));
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(Endpoint(peer.Port, ("certChainFile", cert), ("privateKeyFile", key), ("caFile", pki.CaFile))));
        var echo = cluster.EchoClient(a);
        a.Server.Services.GetRequiredService<NextHopClientPool>().RetireGrace = TimeSpan.FromMilliseconds(50);
        a.Server.Services.GetRequiredService<SiteX.Server.Forwarding.H2.H2Relay>().RetireGrace = TimeSpan.FromMilliseconds(50);
        await echo.UnaryAsync(new EchoRequest { Text = "1" }, TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        var reloaded = a.WaitForTableAsync(t => t.Version > 1);
        OutboundPki.ReplacePem(second, cert, key);
        await reloaded.DefaultTimeout();
        await echo.UnaryAsync(new EchoRequest { Text = "2" }, TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal([first.Thumbprint, second.Thumbprint], peer.ClientThumbprints(EchoPath));
        Assert.Equal(2, peer.Requests.Select(r => r.ConnectionId).Distinct().Count());
        Assert.Contains(a.Logs.Entries, e => e.EventId.Id == 1122);
        await Eventually.ReturnsAsync(() => Task.FromResult(TlsClients(a)), s => s == (1, 0), "the old TLS handler to be disposed");
        cluster.AssertNoUnexpectedErrors(1001); // a reload between the two renames may see a key of the other certificate
    }

    [Fact]
    public async Task KeyFileReplacedByAnotherCertificatesKey_ChangeRejected_TheOldCertificateKeepsServing()
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        using var client = pki.Site(PartyA);
        var (cert, key) = pki.WritePem(client, "client");
        await using var peer = await StartPeerAsync(pki.Site(PartyB));
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(Endpoint(peer.Port, ("certChainFile", cert), ("privateKeyFile", key), ("caFile", pki.CaFile))));
        var rejected = TestTcs.Create<IReadOnlyList<RouteTableError>>();
        a.Routes.EditRejected += errors => rejected.TrySetResult(errors);

        var (_, otherKey) = pki.WritePem(pki.Site(PartyA), "other");
        File.Copy(otherKey, key + ".tmp");
        File.Move(key + ".tmp", key, overwrite: true);
        var errors = await rejected.Task.DefaultTimeout();

        var error = Assert.Single(errors);
        Assert.Equal("route_table.10000.default[0].privateKeyFile", error.Path);
        Assert.Contains("does not belong to the certificate in certChainFile", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, a.Routes.Current.Version);
        await cluster.EchoClient(a).UnaryAsync(new EchoRequest(), TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        Assert.Equal([client.Thumbprint], peer.ClientThumbprints(EchoPath));
        cluster.AssertNoUnexpectedErrors(1001);
    }

    [Fact]
    public async Task EditNamingAMissingCaFile_IsRejectedWithThePath_TheOldTableKeepsServing()
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        await using var peer = await StartPeerAsync(pki.Site(PartyB), requireClientCertificate: false);
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(Endpoint(peer.Port, ("caFile", pki.CaFile))));
        var rejected = TestTcs.Create<IReadOnlyList<RouteTableError>>();
        a.Routes.EditRejected += errors => rejected.TrySetResult(errors);

        a.WriteRouteTable(Table(Endpoint(peer.Port, ("caFile", "missing/ca.crt"))));
        var error = Assert.Single(await rejected.Task.DefaultTimeout());

        Assert.Equal("route_table.10000.default[0].caFile", error.Path);
        Assert.Contains($"file {Path.Combine(Path.GetDirectoryName(a.RouteTableFile)!, "missing", "ca.crt")} does not exist", error.Message, StringComparison.Ordinal);
        await cluster.EchoClient(a).UnaryAsync(new EchoRequest(), TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        cluster.AssertNoUnexpectedErrors(1001);
    }

    [Fact]
    public async Task EditThatLeavesTheTlsIdentityAlone_KeepsThePooledTlsConnection()
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        var (cert, key) = pki.WritePem(pki.Site(PartyA), "client");
        await using var peer = await StartPeerAsync(pki.Site(PartyB));
        var endpoint = Endpoint(peer.Port, ("certChainFile", cert), ("privateKeyFile", key), ("caFile", pki.CaFile));
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(endpoint));
        var echo = cluster.EchoClient(a);
        await echo.UnaryAsync(new EchoRequest(), TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        var applied = a.WaitForTableAsync(t => t.Version > 1);
        a.WriteRouteTable(Table(endpoint.DeepClone().AsObject(), ("20000", new JsonObject { ["ip"] = "127.0.0.1", ["port"] = 1 })));
        await applied.DefaultTimeout();
        await echo.UnaryAsync(new EchoRequest(), TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Single(peer.Requests.Select(r => r.ConnectionId).Distinct());
        Assert.Equal((1, 0), TlsClients(a));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task HttpsUrlRoute_InvokeConvertedToTheInterconnectionApi_CarriesTheClientCertificate()
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        using var client = pki.Site(PartyA);
        var (cert, key) = pki.WritePem(client, "client");
        await using var peer = await StartPeerAsync(pki.Site(PartyB));
        var url = $"https://127.0.0.1:{peer.Port}/v1/interconn/chan/invoke";
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(new JsonObject
        {
            ["protocol"] = "http", ["url"] = url, ["certChainFile"] = cert, ["privateKeyFile"] = key, ["caFile"] = pki.CaFile, ["peer_party"] = PartyB,
        }));
        var invoke = new PrivateTransferProtocol.PrivateTransferProtocolClient(cluster.Channel(a));

        var reply = await invoke.invokeAsync(new Inbound(), PingHeaders(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal(("E0000000000", $"pong from {PartyB}"), (reply.Code, reply.Message));
        Assert.Equal([client.Thumbprint], peer.ClientThumbprints("/v1/interconn/chan/invoke"));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task HttpsUrlRoute_PeerWithUntrustedCertificate_InvokeAnswersNetErrorNamingTls()
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        await using var peer = await StartPeerAsync(OutboundPki.Site(pki.OtherCa, PartyB), requireClientCertificate: false);
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(new JsonObject
        {
            ["protocol"] = "http", ["url"] = $"https://127.0.0.1:{peer.Port}/v1/interconn/chan/invoke", ["caFile"] = pki.CaFile,
        }));
        var invoke = new PrivateTransferProtocol.PrivateTransferProtocolClient(cluster.Channel(a));

        var reply = await invoke.invokeAsync(new Inbound(), PingHeaders(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        output.WriteLine($"caller sees: {reply.Code} \"{reply.Message}\"");
        Assert.Equal("E0000000607", reply.Code);
        Assert.Contains("TLS handshake", reply.Message, StringComparison.Ordinal);
        Assert.Contains("not trusted", reply.Message, StringComparison.Ordinal);
        Leaks.AssertNone(reply.Message, peer.Port);
        Assert.Empty(peer.Requests);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task QueuePushRelayedAsInvoke_GoesOverTheRoutesTlsChannelWithTheClientCertificate()
    {
        await using var cluster = NewCluster();
        var pki = new OutboundPki(cluster.Temp.Combine("pki"));
        using var client = pki.Site(PartyA);
        var (cert, key) = pki.WritePem(client, "client");
        await using var peer = await StartPeerAsync(pki.Site(PartyB));
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(Endpoint(peer.Port, ("certChainFile", cert), ("privateKeyFile", key), ("caFile", pki.CaFile), ("peer_party", PartyB))));
        var fate = new FateMqClient(a.GrpcPort, "session-tls", PartyA, "guest");

        var pushed = await fate.ProduceAsync(PartyB, FateMqClient.Topic("session-tls", "guest", PartyA, "host", PartyB, "x"), "x", "0", [1, 2, 3]).DefaultTimeout();

        Assert.Equal("E0000000000", pushed.Code);
        Assert.Equal([client.Thumbprint], peer.ClientThumbprints("/org.ppc.ptp.PrivateTransferProtocol/invoke"));
        cluster.AssertNoUnexpectedErrors();
    }

    private Task<TlsPeer> StartPeerAsync(X509Certificate2 serverCertificate, bool requireClientCertificate = true) =>
        TlsPeer.StartAsync(serverCertificate, PartyB, requireClientCertificate, logging =>
            logging.AddProvider(new PrefixedLoggerProvider(new XunitLoggerProvider(output, LogLevel.Warning), "tls-peer")));

    private static Metadata PingHeaders() => new()
    {
        { "x-ptp-tech-provider-code", "FATE" },
        { "x-ptp-target-node-id", PartyB },
        { "x-ptp-source-node-id", PartyA },
        { "x-ptp-session-id", "s" },
        { "x-ptp-uri", TlsPeer.PingUri },
    };

    /// <summary>A TLS gRPC endpoint at 127.0.0.1:<paramref name="port"/> with extra fields.</summary>
    private static JsonObject Endpoint(int port, params (string Name, JsonNode? Value)[] fields)
    {
        var endpoint = new JsonObject { ["ip"] = "127.0.0.1", ["port"] = port, ["useSSL"] = true };
        foreach (var (name, value) in fields)
        {
            endpoint[name] = value;
        }

        return endpoint;
    }

    /// <summary>Site A's table: party 10000 through <paramref name="endpoint"/>, and other parties' endpoints.</summary>
    private static string Table(JsonObject endpoint, params (string Party, JsonObject Endpoint)[] others)
    {
        var table = new JsonObject { [PartyB] = new JsonObject { ["default"] = new JsonArray(endpoint) } };
        foreach (var (party, other) in others)
        {
            table[party] = new JsonObject { ["default"] = new JsonArray(other) };
        }

        return new JsonObject { ["route_table"] = table, ["self_party"] = new JsonArray(PartyA) }.ToJsonString();
    }
}
