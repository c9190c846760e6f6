using System.Net;
using System.Net.Http;
using Google.Protobuf;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol;
using SiteX.Protocol.Eggroll.Proxy;
using SiteX.Protocol.Ptp;
using SiteX.Samples.V1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Security;
using Xunit.Abstractions;
using PacketMetadata = SiteX.Protocol.Eggroll.Proxy.Metadata;
using Task = System.Threading.Tasks.Task;

namespace SiteX.FunctionalTests.Security;

/// <summary>
/// The inter-site TLS ports of gateway B (party 10000) with real TLS on 127.0.0.1: a peer gateway of party 9999 with
/// a certificate from the sites' CA gets the same planes as local services on the intra-site ports, as party 9999 and
/// nothing else; a connection without a valid certificate is refused in the handshake, before anything is forwarded.
/// </summary>
public sealed class InterSiteTlsTests(ITestOutputHelper output)
{
    private const string Session = "tls-session";

    private static Grpc.Core.Metadata ToEcho(params (string Key, string Value)[] extra)
    {
        var headers = TestCluster.Target(TlsSite.PartyB, "echo");
        foreach (var (key, value) in extra)
        {
            headers.Add(key, value);
        }

        return headers;
    }

    private static Grpc.Core.Metadata InvokePushHeaders(string from) => new()
    {
        { PtpHeaders.TargetNodeId, TlsSite.PartyB },
        { PtpHeaders.Uri, PtpMethods.OsxPushUri },
        { PtpHeaders.SessionId, Session },
        { PtpHeaders.TechProviderCode, "FATE" },
        { PtpHeaders.FromNodeId, from },
    };

    private static Inbound PushInbound(string topic, string text) => new()
    {
        Payload = new PushInbound { Topic = topic, Payload = ByteString.CopyFromUtf8(text) }.ToByteString(),
    };

    private static Packet FateFlowPacket(string source) => new()
    {
        Header = new PacketMetadata
        {
            Src = new Topic { Name = "job", PartyId = source, Role = "fateflow" },
            Dst = new Topic { Name = "job", PartyId = TlsSite.PartyB, Role = "fateflow" },
            Command = new Command { Name = "/v2/partner/job/create" },
        },
        Body = new Data { Key = "k", Value = ByteString.CopyFromUtf8("{}") },
    };

    /// <summary>A pop by a local service at B, on B's intra-site port.</summary>
    private static async Task<string> PopLocallyAsync(TestCluster cluster, TlsSite site, string topic)
    {
        var popper = new PrivateTransferTransport.PrivateTransferTransportClient(cluster.Channel(site.B));
        var session = new Grpc.Core.Metadata { { PtpHeaders.SessionId, Session }, { PtpHeaders.TechProviderCode, "FATE" } };
        var popped = await popper.popAsync(new PopInbound { Topic = topic, Timeout = 10_000 }, session, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        Assert.True(popped.Code == PtpCodes.Success, $"{popped.Code} {popped.Message}");
        return popped.Payload.ToStringUtf8();
    }

    [Fact]
    public async Task GrpcTlsPort_PeerWithValidCertificate_PassesThroughToEcho_AsTheProvenParty()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        using var peer = site.PeerA9999();
        var client = new Echo.EchoClient(peer.Channel(site.B.GrpcTlsPort));

        var reply = await client.UnaryAsync(new EchoRequest { Text = "over mTLS", EchoMetadata = true }, ToEcho(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal("over mTLS", reply.Text);
        Assert.Equal(1, site.Echo.Observer.CallsCompleted);
        // The call named no source: the service sees the proven party.
        Assert.Equal(TlsSite.PartyA, reply.Metadata[PtpHeaders.SourceNodeId]);
        Assert.Equal(site.ServerCertificate.Thumbprint, Assert.Single(peer.ServerThumbprints));
        var flow = await Eventually.ReturnsAsync(() => File.ReadAllTextAsync(site.B.AccessLogFile), text => text.Contains("sitex.samples.v1.Echo/Unary", StringComparison.Ordinal), "the access log line");
        Assert.Contains("src:9999", flow, StringComparison.Ordinal);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task GrpcTlsPort_PeerInvokesQueuePush_LocalServicePopsIt()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        using var peer = site.PeerA9999();
        var invoker = new PrivateTransferProtocol.PrivateTransferProtocolClient(peer.Channel(site.B.GrpcTlsPort));

        var reply = await invoker.invokeAsync(PushInbound("t1", "from 9999"), InvokePushHeaders(TlsSite.PartyA), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.True(reply.Code == PtpCodes.Success, $"{reply.Code} {reply.Message}");
        Assert.Equal("from 9999", await PopLocallyAsync(cluster, site, "t1"));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task HttpsPort_PeerWithValidCertificate_ServesInterconnInvokeAndPush_OverHttp11AndHttp2()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        using var peer = site.PeerA9999();
        var chan = new HttpChanClient(peer.Http, site.B.HttpsPort, Session, TlsSite.PartyA, scheme: "https");

        var invoked = await chan.InvokeAsync(TlsSite.PartyB, PtpMethods.OsxPushUri, new PushInbound { Topic = "t2", Payload = ByteString.CopyFromUtf8("invoked") }.ToByteArray()).DefaultTimeout();
        var pushed = await chan.PushAsync(TlsSite.PartyB, "t2", "pushed"u8.ToArray()).DefaultTimeout();
        using var h2 = new HttpRequestMessage(HttpMethod.Post, chan.Url("push"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = HttpChanClient.Json($$"""{"topic": "t2", "payload": "{{Convert.ToBase64String("over h2"u8.ToArray())}}"}"""),
        };
        h2.Headers.Add(PtpHeaders.SessionId, Session);
        h2.Headers.Add(PtpHeaders.TargetNodeId, TlsSite.PartyB);
        using var h2Response = await peer.Http.SendAsync(h2).DefaultTimeout();
        var h2Reply = await HttpChanClient.ReadAsync(h2Response).DefaultTimeout();

        Assert.True(invoked.Code == PtpCodes.Success, invoked.Raw);
        Assert.True(pushed.Code == PtpCodes.Success, pushed.Raw);
        Assert.Equal(HttpVersion.Version20, h2Response.Version);
        Assert.True(h2Reply.Code == PtpCodes.Success, h2Reply.Raw);
        foreach (var expected in new[] { "invoked", "pushed", "over h2" })
        {
            Assert.Equal(expected, await PopLocallyAsync(cluster, site, "t2"));
        }

        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task GrpcTlsPort_NoClientCertificate_RefusedInTheHandshake_NothingForwarded()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        using var anonymous = new PeerClient(null, site.Ca);
        var refused = site.B.Logs.WaitForAsync(e => e.EventId.Id == 1406);

        await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(anonymous.Channel(site.B.GrpcTlsPort))
            .UnaryAsync(new EchoRequest { Text = "x" }, ToEcho(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());

        var entry = await refused.DefaultTimeout();
        Assert.Contains("no client certificate", entry.Message, StringComparison.Ordinal);
        Assert.Equal(0, site.Echo.Observer.CallsStarted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task GrpcTlsPort_CertificateFromAnotherCa_RefusedInTheHandshake()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        var rogueCa = site.Pki.Authority("rogue CA");
        using var rogue = new PeerClient(site.Pki.Site(rogueCa, TlsSite.PartyA), site.Ca);
        var refused = site.B.Logs.WaitForAsync(e => e.EventId.Id == 1405);

        await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(rogue.Channel(site.B.GrpcTlsPort))
            .UnaryAsync(new EchoRequest { Text = "x" }, ToEcho(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());

        var entry = await refused.DefaultTimeout();
        Assert.Contains("is not issued by a CA of Tls:CaFile", entry.Message, StringComparison.Ordinal);
        Assert.Equal(0, site.Echo.Observer.CallsStarted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task HttpsPort_ExpiredCertificate_RefusedInTheHandshake()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        var expired = site.Pki.Site(site.Ca, TlsSite.PartyA, notBefore: TestPki.Now.AddDays(-30), notAfter: TestPki.Now.AddDays(-1));
        using var peer = new PeerClient(expired, site.Ca);
        var chan = new HttpChanClient(peer.Http, site.B.HttpsPort, Session, TlsSite.PartyA, scheme: "https");
        var refused = site.B.Logs.WaitForAsync(e => e.EventId.Id == 1405);

        await Assert.ThrowsAsync<HttpRequestException>(() => chan.PushAsync(TlsSite.PartyB, "t", "x"u8.ToArray()).DefaultTimeout());

        var entry = await refused.DefaultTimeout();
        Assert.Contains("expired", entry.Message, StringComparison.Ordinal);
        Assert.Equal(0, site.B.Queues.Snapshot().Sum(s => s.Depth));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task GrpcTlsPort_SourceHeaderNamingAnotherParty_PermissionDenied_NothingReachesTheServiceOrQueue()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        using var peer = site.PeerA9999();
        var channel = peer.Channel(site.B.GrpcTlsPort);

        var denied = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel)
            .UnaryAsync(new EchoRequest { Text = "x" }, ToEcho((PtpHeaders.SourceNodeId, "8888")), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        var invoked = await new PrivateTransferProtocol.PrivateTransferProtocolClient(channel)
            .invokeAsync(PushInbound("t3", "spoofed"), InvokePushHeaders("8888"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        var spoofer = new HttpChanClient(peer.Http, site.B.HttpsPort, Session, "8888", scheme: "https");
        var pushed = await spoofer.PushAsync(TlsSite.PartyB, "t3", "spoofed"u8.ToArray()).DefaultTimeout();

        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Contains("party 9999", denied.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("party 8888", denied.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(PtpCodes.InvalidRequest, invoked.Code);
        Assert.Contains("party 9999", invoked.Message, StringComparison.Ordinal);
        Assert.Contains("party 8888", invoked.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, pushed.Status);
        Assert.Equal("identity_mismatch", pushed.Error);
        Assert.Equal(0, site.Echo.Observer.CallsStarted);
        Assert.Equal(0, site.B.Queues.Snapshot().Sum(s => s.Depth));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task GrpcTlsPort_PacketWhoseSourceDisagrees_PermissionDenied_AMatchingOneReachesFateFlow()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        using var peer = site.PeerA9999();
        var client = new DataTransferService.DataTransferServiceClient(peer.Channel(site.B.GrpcTlsPort));

        var denied = await Assert.ThrowsAsync<RpcException>(() => client.unaryCallAsync(FateFlowPacket("8888"), deadline: TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        var invokeHeaders = new Grpc.Core.Metadata
        {
            { PtpHeaders.TargetNodeId, TlsSite.PartyB },
            { PtpHeaders.Uri, "/org.fedai.osx.proxy/unary" },
            { PtpHeaders.TechProviderCode, "FATE" },
        };
        var invoked = await new PrivateTransferProtocol.PrivateTransferProtocolClient(peer.Channel(site.B.GrpcTlsPort))
            .invokeAsync(new Inbound { Payload = FateFlowPacket("8888").ToByteString() }, invokeHeaders, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        var reply = await client.unaryCallAsync(FateFlowPacket(TlsSite.PartyA), deadline: TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Contains("src.partyId names party 8888", denied.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(PtpCodes.InvalidRequest, invoked.Code);
        Assert.Contains("the caller is party 9999", invoked.Message, StringComparison.Ordinal);
        Assert.Contains("names party 8888", invoked.Message, StringComparison.Ordinal);
        Assert.Equal(TlsSite.PartyA, reply.Header.Dst.PartyId);
        Assert.Equal(1, site.FateFlow.Service.UnaryCalls);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task TrustedRelay_MayCarryCallsOfAnotherSource()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster, tls => tls.TrustedRelays = ["exchange"]);
        using var exchange = new PeerClient(site.Pki.Site(site.Ca, "exchange"), site.Ca);
        var channel = exchange.Channel(site.B.GrpcTlsPort);

        var reply = await new Echo.EchoClient(channel).UnaryAsync(new EchoRequest { Text = "relayed", EchoMetadata = true }, ToEcho((PtpHeaders.SourceNodeId, TlsSite.PartyA)), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        var packet = await new DataTransferService.DataTransferServiceClient(channel).unaryCallAsync(FateFlowPacket(TlsSite.PartyA), deadline: TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal("relayed", reply.Text);
        Assert.Equal(TlsSite.PartyA, reply.Metadata[PtpHeaders.SourceNodeId]);
        Assert.Equal(TlsSite.PartyA, packet.Header.Dst.PartyId);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PopPeekRelease_OnTheTlsPorts_RefusedAsLocalOperations()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        using var peer = site.PeerA9999();
        var transport = new PrivateTransferTransport.PrivateTransferTransportClient(peer.Channel(site.B.GrpcTlsPort));
        var session = new Grpc.Core.Metadata { { PtpHeaders.SessionId, Session }, { PtpHeaders.TechProviderCode, "FATE" } };
        var chan = new HttpChanClient(peer.Http, site.B.HttpsPort, Session, TlsSite.PartyA, scheme: "https");

        var pop = await Assert.ThrowsAsync<RpcException>(() => transport.popAsync(new PopInbound { Topic = "t", Timeout = 1000 }, session, TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        var peek = await Assert.ThrowsAsync<RpcException>(() => transport.peekAsync(new PeekInbound { Topic = "t" }, session, TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        var release = await Assert.ThrowsAsync<RpcException>(() => transport.releaseAsync(new ReleaseInbound(), session, TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        var httpPop = await chan.PopAsync("t", 1000).DefaultTimeout();
        var httpRelease = await chan.ReleaseAsync().DefaultTimeout();

        Assert.All([pop, peek, release], e => Assert.Equal(StatusCode.PermissionDenied, e.StatusCode));
        Assert.Contains("local operation", pop.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, httpPop.Status);
        Assert.Equal("local_only", httpPop.Error);
        Assert.Equal(HttpStatusCode.Forbidden, httpRelease.Status);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task OptionalClientCertificate_AllowUnprovenPeers_ConnectionWithoutOne_IsServedWithTheSourceAsClaimed()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster, tls => (tls.ClientCertificate, tls.AllowUnprovenPeers) = (SiteX.Server.Configuration.ClientCertificateRequirement.Optional, true));
        using var anonymous = new PeerClient(null, site.Ca);
        using var peer = site.PeerA9999();

        var reply = await new Echo.EchoClient(anonymous.Channel(site.B.GrpcTlsPort)).UnaryAsync(new EchoRequest { Text = "anonymous" }, ToEcho((PtpHeaders.SourceNodeId, "8888")), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        var denied = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(peer.Channel(site.B.GrpcTlsPort))
            .UnaryAsync(new EchoRequest { Text = "x" }, ToEcho((PtpHeaders.SourceNodeId, "8888")), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());

        Assert.Equal("anonymous", reply.Text);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        cluster.AssertNoUnexpectedErrors();
    }

    [Theory]
    [InlineData("pem-pkcs8-ecdsa")]
    [InlineData("pem-pkcs1-rsa")]
    [InlineData("pem-pkcs8-rsa-encrypted")]
    [InlineData("pem-with-key-in-cert-file")]
    [InlineData("pkcs12")]
    public async Task ServerCertificate_FromEachFileFormat_IsPresentedAndServes(string format)
    {
        await using var cluster = new TestCluster(output);
        string? presented = null;
        var site = await TlsSite.StartAsync(cluster, (tls, pki, ca) =>
        {
            var algorithm = format.Contains("rsa", StringComparison.Ordinal) ? SiteKeyAlgorithm.Rsa2048 : SiteKeyAlgorithm.EcdsaP256;
            var server = pki.Site(ca, TlsSite.PartyB, algorithm: algorithm);
            presented = server.Thumbprint;
            var (certFile, keyFile) = (pki.Path(format + ".crt"), pki.Path(format + ".key"));
            (tls.CertFile, tls.KeyFile) = (certFile, keyFile);
            switch (format)
            {
                case "pem-pkcs1-rsa":
                    SiteCertificates.WritePem(server, certFile, keyFile, PemKeyFormat.Pkcs1);
                    break;
                case "pem-pkcs8-rsa-encrypted":
                    File.WriteAllText(certFile, server.ExportCertificatePem());
                    using (var rsa = server.GetRSAPrivateKey()!)
                    {
                        File.WriteAllText(keyFile, rsa.ExportEncryptedPkcs8PrivateKeyPem("key secret",
                            new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000)));
                    }

                    tls.KeyPassword = "key secret";
                    break;
                case "pem-with-key-in-cert-file":
                    SiteCertificates.WritePem(server, certFile, keyFile);
                    File.AppendAllText(certFile, File.ReadAllText(keyFile));
                    tls.KeyFile = null;
                    break;
                case "pkcs12":
                    (tls.CertFile, tls.KeyFile) = (null, null);
                    tls.Pkcs12File = pki.Path("server.p12");
                    tls.Pkcs12Password = "p12 secret";
                    SiteCertificates.WritePkcs12(server, tls.Pkcs12File, tls.Pkcs12Password, ca);
                    break;
                default:
                    SiteCertificates.WritePem(server, certFile, keyFile);
                    break;
            }
        });
        using var peer = site.PeerA9999();

        var reply = await new Echo.EchoClient(peer.Channel(site.B.GrpcTlsPort)).UnaryAsync(new EchoRequest { Text = format }, ToEcho(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal(format, reply.Text);
        Assert.Equal(presented, Assert.Single(peer.ServerThumbprints));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PlainTextClientOnTlsPorts_AndTlsClientOnPlainPorts_FailFast_WithALogLine()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        using var peer = site.PeerA9999();
        using var plainHttp = new HttpClient { Timeout = TaskTimeoutExtensions.DefaultTimeoutTimeSpan };
        var plainOnTls = site.B.Logs.WaitForAsync(e => e.EventId.Id == 1408);
        var tlsOnPlain = site.B.Logs.WaitForAsync(e => e.EventId.Id == 1409);

        // A cleartext h2c client on the TLS gRPC port, and a plain HTTP/1.1 client on the HTTPS port.
        var h2cOnTls = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{site.B.GrpcTlsPort}");
        var h2cError = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(h2cOnTls).UnaryAsync(new EchoRequest(), ToEcho(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        using var http1OnTls = await plainHttp.PostAsync(new Uri($"http://127.0.0.1:{site.B.HttpsPort}/v1/interconn/chan/push"), HttpChanClient.Json("{}")).DefaultTimeout();
        // TLS clients on the plain ports.
        var tlsOnGrpc = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(peer.Channel(site.B.GrpcPort)).UnaryAsync(new EchoRequest(), ToEcho(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        await Assert.ThrowsAsync<HttpRequestException>(() => peer.Http.PostAsync(new Uri($"https://127.0.0.1:{site.B.HttpPort}/v1/interconn/chan/push"), HttpChanClient.Json("{}")).DefaultTimeout());

        Assert.Equal(StatusCode.Unavailable, h2cError.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, http1OnTls.StatusCode);
        Assert.Contains("TLS port", await http1OnTls.Content.ReadAsStringAsync().DefaultTimeout(), StringComparison.Ordinal);
        Assert.Equal(StatusCode.Unavailable, tlsOnGrpc.StatusCode);
        await plainOnTls.DefaultTimeout();
        await tlsOnPlain.DefaultTimeout();
        Assert.Equal(0, site.Echo.Observer.CallsStarted);
        h2cOnTls.Dispose();
        cluster.AssertNoUnexpectedErrors();
    }
}
