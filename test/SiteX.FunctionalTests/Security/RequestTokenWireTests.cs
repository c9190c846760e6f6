using System.Net;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using SiteX.Samples.V1;
using SiteX.Server.Configuration;
using SiteX.Server.Security;
using Xunit.Abstractions;
using Metadata = Grpc.Core.Metadata;

namespace SiteX.FunctionalTests.Security;

/// <summary>
/// Signed request tokens on the wire: gateway B (party 10000) takes connections without a client certificate on its
/// TLS ports (one-way TLS, as behind a TLS-terminating proxy) and shares a key with party 9999. A call is served only
/// when its <c>x-ptp-token</c> proves its party; a replayed, expired, re-targeted or tampered one is refused with a
/// clear local error before anything is forwarded or stored. Gateway A (a real SiteX of party 9999) signs its calls
/// to B on every path it sends them by.
/// </summary>
public sealed class RequestTokenWireTests(ITestOutputHelper output)
{
    private const string PartyA = TlsSite.PartyA;
    private const string PartyB = TlsSite.PartyB;
    private const string EchoPath = "/sitex.samples.v1.Echo/Unary";
    private const string Session = "token-session";

    private static readonly string s_secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static PeerKeyConfig Key(string peer) => new() { Peer = peer, Id = "k1", Secret = s_secret };

    /// <summary>B: client certificates optional, a key shared with each of <paramref name="peers"/>.</summary>
    private static Task<TlsSite> StartAsync(TestCluster cluster, string[] peers, Action<SiteXOptions>? more = null) =>
        TlsSite.StartAsync(cluster, (tls, _, _) => tls.ClientCertificate = ClientCertificateRequirement.Optional, options =>
        {
            options.Tokens.Keys = [.. peers.Select(Key)];
            more?.Invoke(options);
        });

    /// <summary>The token service of a gateway that shares the key with party 10000 (its clock: <paramref name="time"/>).</summary>
    private static RequestTokens SignerFor10000(TimeProvider? time = null) =>
        new(Microsoft.Extensions.Options.Options.Create(new SiteXOptions { Tokens = { Keys = [Key(PartyB)] } }), time ?? TimeProvider.System, NullLogger<RequestTokens>.Instance);

    /// <summary>Headers of an Echo call to B signed as <paramref name="from"/> for <paramref name="signedTarget"/> and
    /// <paramref name="signedPath"/> (the body a stream: <c>UNSIGNED-PAYLOAD</c>).</summary>
    private static Metadata SignedEcho(RequestTokens signer, string from = PartyA, string signedTarget = PartyB, string signedPath = EchoPath)
    {
        var headers = TestCluster.Target(PartyB, "echo");
        headers.Add(PtpHeaders.Token, signer.Sign(PartyB, from, signedTarget, "POST", signedPath, RequestToken.UnsignedPayload)!);
        headers.Add(RequestToken.DigestHeader, RequestToken.UnsignedPayload);
        return headers;
    }

    private static Echo.EchoClient EchoAt(PeerClient client, TlsSite site) => new(client.Channel(site.B.GrpcTlsPort));

    private static async Task<RpcException> RefusedAsync(Echo.EchoClient client, Metadata headers) =>
        await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync(new EchoRequest { Text = "refused" }, headers, TestCluster.Deadline()).ResponseAsync.DefaultTimeout());

    private static void AssertNothingInternal(string message)
    {
        Assert.DoesNotContain(s_secret, message, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", message, StringComparison.Ordinal);
        Assert.DoesNotContain("/tmp", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_OverOneWayTls_ProvesThePeer_AndIsNotPassedOn()
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var site = await StartAsync(cluster, [PartyA]);
        using var anonymous = new PeerClient(null, site.Ca);
        var signer = SignerFor10000();

        // Act
        var reply = await EchoAt(anonymous, site).UnaryAsync(new EchoRequest { Text = "signed", EchoMetadata = true }, SignedEcho(signer), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        var claimsOther = SignedEcho(signer);
        claimsOther.Add(PtpHeaders.SourceNodeId, "8888");
        var mismatch = await RefusedAsync(EchoAt(anonymous, site), claimsOther);

        // Assert
        Assert.Equal("signed", reply.Text);
        Assert.Equal(PartyA, reply.Metadata[PtpHeaders.SourceNodeId]); // the proven party, set by B
        Assert.False(reply.Metadata.ContainsKey(PtpHeaders.Token), "the token belongs to the hop it was made for");
        Assert.False(reply.Metadata.ContainsKey(RequestToken.DigestHeader));
        Assert.Equal(StatusCode.PermissionDenied, mismatch.StatusCode);
        Assert.Contains("party 9999 (proven by its request token)", mismatch.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, site.Echo.Observer.CallsCompleted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Token_Replayed_IsRefusedUnauthenticated_AndNothingReachesTheService()
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var site = await StartAsync(cluster, [PartyA]);
        using var anonymous = new PeerClient(null, site.Ca);
        var headers = SignedEcho(SignerFor10000());
        await EchoAt(anonymous, site).UnaryAsync(new EchoRequest { Text = "first" }, headers, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        // Act
        var replayed = await RefusedAsync(EchoAt(anonymous, site), headers);

        // Assert
        Assert.Equal(StatusCode.Unauthenticated, replayed.StatusCode);
        Assert.Contains("request token refused: the token was already used (replay)", replayed.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("unauthenticated", replayed.Trailers.GetValue(SiteXHeaders.Error));
        AssertNothingInternal(replayed.Status.Detail);
        Assert.Equal(1, site.Echo.Observer.CallsCompleted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Theory]
    [InlineData(-10)]
    [InlineData(+10)]
    public async Task Token_SignedOutsideTheWindow_IsRefused_NamingTheClocks(int minutes)
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var site = await StartAsync(cluster, [PartyA]);
        using var anonymous = new PeerClient(null, site.Ca);
        var skewed = SignerFor10000(new SkewedClock(TimeSpan.FromMinutes(minutes)));

        // Act
        var refused = await RefusedAsync(EchoAt(anonymous, site), SignedEcho(skewed));

        // Assert
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Contains("outside the accepted window (check both clocks)", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, site.Echo.Observer.CallsCompleted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Theory]
    [InlineData("another target", "the token's signature does not match the request")]
    [InlineData("another path", "the token's signature does not match the request")]
    [InlineData("unknown party", "the token's party has no shared key here")]
    [InlineData("no digest header", "a request token needs x-sitex-content-sha256")]
    [InlineData("garbled", "the x-ptp-token is not a SiteX request token")]
    public async Task Token_NotForThisRequest_IsRefused_WithTheReason(string flaw, string reason)
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var site = await StartAsync(cluster, [PartyA]);
        using var anonymous = new PeerClient(null, site.Ca);
        var signer = SignerFor10000();
        var headers = flaw switch
        {
            "another target" => SignedEcho(signer, signedTarget: "10001"),
            "another path" => SignedEcho(signer, signedPath: "/sitex.samples.v1.Echo/ServerStream"),
            "unknown party" => SignedEcho(signer, from: "7777"),
            _ => SignedEcho(signer),
        };
        if (flaw == "no digest header")
        {
            headers.Remove(headers.Get(RequestToken.DigestHeader)!);
        }
        else if (flaw == "garbled")
        {
            var token = headers.Get(PtpHeaders.Token)!;
            headers.Remove(token);
            headers.Add(PtpHeaders.Token, token.Value.Replace(":", "::", StringComparison.Ordinal));
        }

        // Act
        var refused = await RefusedAsync(EchoAt(anonymous, site), headers);

        // Assert
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Contains(reason, refused.Status.Detail, StringComparison.Ordinal);
        AssertNothingInternal(refused.Status.Detail);
        Assert.Equal(0, site.Echo.Observer.CallsCompleted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task NoCertificateAndNoToken_IsRefused_AnOpaqueTokenIsNoProof()
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var site = await StartAsync(cluster, [PartyA]);
        using var anonymous = new PeerClient(null, site.Ca);
        var opaque = TestCluster.Target(PartyB, "echo");
        opaque.Add(PtpHeaders.Token, "fate-token-123");

        // Act
        var bare = await RefusedAsync(EchoAt(anonymous, site), TestCluster.Target(PartyB, "echo"));
        var withOpaque = await RefusedAsync(EchoAt(anonymous, site), opaque);

        // Assert
        Assert.All([bare, withOpaque], e => Assert.Equal(StatusCode.Unauthenticated, e.StatusCode));
        Assert.Contains("proves no party: it has no client certificate and no SiteX request token", bare.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, site.Echo.Observer.CallsCompleted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task CertificateAndToken_ProvingDifferentParties_AreRefused_AgreeingOnesPass()
    {
        // Arrange: B shares keys with 9999 and 8888; the caller holds 9999's certificate.
        await using var cluster = new TestCluster(output);
        var site = await StartAsync(cluster, [PartyA, "8888"]);
        using var peer = site.PeerA9999();
        var signer = SignerFor10000();

        // Act
        var agreeing = await EchoAt(peer, site).UnaryAsync(new EchoRequest { Text = "both" }, SignedEcho(signer), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        var disagreeing = await RefusedAsync(EchoAt(peer, site), SignedEcho(signer, from: "8888"));

        // Assert
        Assert.Equal("both", agreeing.Text);
        Assert.Equal(StatusCode.PermissionDenied, disagreeing.StatusCode);
        Assert.Contains("the caller's client certificate proves party 9999 but its request token proves party 8888", disagreeing.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, site.Echo.Observer.CallsCompleted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task HttpsInvoke_WithASignedBodyDigest_IsStored_ATamperedOrOversizedBodyIsRefused()
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var site = await StartAsync(cluster, [PartyA], options => options.Tokens.MaxSignedBodyBytes = 4096);
        using var anonymous = new PeerClient(null, site.Ca);
        var signer = SignerFor10000();
        byte[] Body(string text) => Encoding.UTF8.GetBytes(new JsonObject
        {
            ["payload"] = Convert.ToBase64String(new PushInbound { Topic = "signed", Payload = ByteString.CopyFromUtf8(text) }.ToByteArray()),
        }.ToJsonString());
        async Task<ChanReply> InvokeAsync(byte[] signedBody, byte[] sentBody)
        {
            var digest = RequestToken.BodyDigest(signedBody);
            using var request = new HttpRequestMessage(HttpMethod.Post, $"https://127.0.0.1:{site.B.HttpsPort}/v1/interconn/chan/invoke") { Content = new ByteArrayContent(sentBody) };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json;charset=UTF-8");
            request.Headers.Add(PtpHeaders.TargetNodeId, PartyB);
            request.Headers.Add(PtpHeaders.Uri, PtpMethods.OsxPushUri);
            request.Headers.Add(PtpHeaders.SessionId, Session);
            request.Headers.Add(PtpHeaders.Token, signer.Sign(PartyB, PartyA, PartyB, "POST", "/v1/interconn/chan/invoke", digest)!);
            request.Headers.Add(RequestToken.DigestHeader, digest);
            using var response = await anonymous.Http.SendAsync(request).DefaultTimeout();
            return await HttpChanClient.ReadAsync(response);
        }

        // Act
        var stored = await InvokeAsync(Body("genuine"), Body("genuine"));
        var tampered = await InvokeAsync(Body("genuine"), Body("tampered"));
        var big = Body(new string('x', 8192));
        var oversized = await InvokeAsync(big, big);

        // Assert
        Assert.True(stored.Status == HttpStatusCode.OK && stored.Code == PtpCodes.Success, stored.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, tampered.Status);
        Assert.Equal("unauthenticated", tampered.Error);
        Assert.Contains("the body does not match the digest its token signs", tampered.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, oversized.Status);
        Assert.Contains("larger than 4096 bytes (Tokens:MaxSignedBodyBytes)", oversized.Message, StringComparison.Ordinal);
        var popped = await PopAtBAsync(cluster, site, "signed");
        Assert.Equal("genuine", popped);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task GatewayA_SignsItsCallsToB_OnEveryPath()
    {
        // Arrange: A reaches B's TLS gRPC port for party 10000 and B's HTTPS port for party 10000's HTTP route, both
        // over one-way TLS, sharing a key with 10000.
        await using var cluster = new TestCluster(output);
        var site = await StartAsync(cluster, [PartyA]);
        var overGrpc = new JsonObject { ["ip"] = "127.0.0.1", ["port"] = site.B.GrpcTlsPort, ["useSSL"] = true, ["caFile"] = site.CaFile };
        var overHttps = new JsonObject { ["protocol"] = "http", ["url"] = $"https://127.0.0.1:{site.B.HttpsPort}/v1/interconn/chan/invoke", ["caFile"] = site.CaFile };
        string Table(JsonObject endpoint) => new JsonObject
        {
            ["route_table"] = new JsonObject { [PartyB] = new JsonObject { ["default"] = new JsonArray(endpoint) } },
            ["self_party"] = new JsonArray(PartyA),
        }.ToJsonString();
        void Keys(SiteXOptions options) => options.Tokens.Keys = [Key(PartyB)];
        var a = await cluster.StartGatewayAsync("A", PartyA, Table(overGrpc), configure: Keys);
        var aHttp = await cluster.StartGatewayAsync("A-http", PartyA, Table(overHttps), configure: Keys);
        var unkeyed = await cluster.StartGatewayAsync("A-unkeyed", PartyA, Table(overGrpc.DeepClone().AsObject()));

        // Act
        var echoed = await cluster.EchoClient(a).UnaryAsync(new EchoRequest { Text = "via A", EchoMetadata = true }, TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        using var http = new HttpClient();
        var relayed = await new HttpChanClient(http, a.HttpPort, Session, PartyA).InvokeAsync(PartyB, PtpMethods.OsxPushUri,
            new PushInbound { Topic = "relayed", Payload = ByteString.CopyFromUtf8("over gRPC") }.ToByteArray()).DefaultTimeout();
        var converted = await new PrivateTransferProtocol.PrivateTransferProtocolClient(cluster.Channel(aHttp)).invokeAsync(
            new Inbound { Payload = new PushInbound { Topic = "converted", Payload = ByteString.CopyFromUtf8("over HTTPS") }.ToByteString() },
            new Metadata { { PtpHeaders.TargetNodeId, PartyB }, { PtpHeaders.Uri, PtpMethods.OsxPushUri }, { PtpHeaders.SessionId, Session }, { PtpHeaders.TechProviderCode, "FATE" } },
            TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        var unsigned = await Assert.ThrowsAsync<RpcException>(() => cluster.EchoClient(unkeyed).UnaryAsync(new EchoRequest { Text = "unsigned" }, TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());

        // Assert
        Assert.Equal("via A", echoed.Text);
        Assert.Equal(PartyA, echoed.Metadata[PtpHeaders.SourceNodeId]);
        Assert.False(echoed.Metadata.ContainsKey(PtpHeaders.Token));
        Assert.True(relayed.Code == PtpCodes.Success, relayed.ToString());
        Assert.True(converted.Code == PtpCodes.Success, $"{converted.Code} {converted.Message}");
        Assert.Equal("over gRPC", await PopAtBAsync(cluster, site, "relayed"));
        Assert.Equal("over HTTPS", await PopAtBAsync(cluster, site, "converted"));
        Assert.Equal(StatusCode.Unauthenticated, unsigned.StatusCode);
        Assert.Contains("proves no party", unsigned.Status.Detail, StringComparison.Ordinal);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task KeyFileRotation_OnBothSites_UnderLoad_NoCallFails_ABadEditIsRefused()
    {
        // Arrange: A and B share key k1 through their key files; A calls B's Echo through its one-way TLS route.
        await using var cluster = new TestCluster(output);
        var (aFile, bFile) = (cluster.Temp.Combine("a-keys.json"), cluster.Temp.Combine("b-keys.json"));
        var k1 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var k2 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        static string KeyFile(string peer, params (string Id, string Secret, DateTimeOffset NotBefore)[] keys) => new JsonObject
        {
            ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)new JsonObject { ["peer"] = peer, ["id"] = k.Id, ["secret"] = k.Secret, ["notBefore"] = k.NotBefore.ToString("O") })]),
        }.ToJsonString();
        var start = DateTimeOffset.UtcNow.AddDays(-1);
        File.WriteAllText(aFile, KeyFile(PartyB, ("k1", k1, start)));
        File.WriteAllText(bFile, KeyFile(PartyA, ("k1", k1, start)));
        var site = await TlsSite.StartAsync(cluster, (tls, _, _) => tls.ClientCertificate = ClientCertificateRequirement.Optional, options => options.Tokens.KeyFile = bFile);
        var route = new JsonObject { ["ip"] = "127.0.0.1", ["port"] = site.B.GrpcTlsPort, ["useSSL"] = true, ["caFile"] = site.CaFile };
        var a = await cluster.StartGatewayAsync("A", PartyA, new JsonObject
        {
            ["route_table"] = new JsonObject { [PartyB] = new JsonObject { ["default"] = new JsonArray(route) } },
            ["self_party"] = new JsonArray(PartyA),
        }.ToJsonString(), configure: options => options.Tokens.KeyFile = aFile);
        var (atA, atB) = (a.Server.Services.GetRequiredService<RequestTokens>(), site.B.Server.Services.GetRequiredService<RequestTokens>());
        static Task<int> NextReloadAsync(RequestTokens tokens)
        {
            var signal = TestTcs.Create<int>();
            tokens.Reloaded += count => signal.TrySetResult(count);
            return signal.Task;
        }

        var echo = cluster.EchoClient(a);
        var progress = new CallProgress();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        async Task LoadAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await echo.UnaryAsync(new EchoRequest { Text = "load" }, TestCluster.Target(PartyB, "echo"), TestCluster.Deadline()).ResponseAsync;
                    progress.Increment();
                }
                catch (RpcException ex)
                {
                    failures.Enqueue(ex.Status.Detail);
                }
            }
        }

        var load = Task.WhenAll(Task.Run(LoadAsync), Task.Run(LoadAsync));
        try
        {
            await progress.WhenAtLeast(20).DefaultTimeout();

            // Act 1: B learns k2 first (the verifier must know a key before the signer uses it)...
            var bHasK2 = NextReloadAsync(atB);
            TestGateway.WriteAtomically(bFile, KeyFile(PartyA, ("k1", k1, start), ("k2", k2, DateTimeOffset.UtcNow.AddSeconds(-1))));
            Assert.Equal(2, await bHasK2.DefaultTimeout());
            await progress.WhenAtLeast(progress.Count + 20).DefaultTimeout();

            // ...then A, which signs with its newest valid key, k2, from now on...
            var aHasK2 = NextReloadAsync(atA);
            TestGateway.WriteAtomically(aFile, KeyFile(PartyB, ("k1", k1, start), ("k2", k2, DateTimeOffset.UtcNow.AddSeconds(-1))));
            Assert.Equal(2, await aHasK2.DefaultTimeout());
            await progress.WhenAtLeast(progress.Count + 20).DefaultTimeout();

            // ...and k1 is retired at B: only k2 signs anything that still passes.
            var bRetiredK1 = NextReloadAsync(atB);
            TestGateway.WriteAtomically(bFile, KeyFile(PartyA, ("k2", k2, start)));
            Assert.Equal(1, await bRetiredK1.DefaultTimeout());
            await progress.WhenAtLeast(progress.Count + 20).DefaultTimeout();

            // A bad edit (a 16-byte secret) is refused, naming the entry, and k2 keeps serving.
            var rejected = TestTcs.Create<string>();
            atB.ReloadRejected += problem => rejected.TrySetResult(problem);
            var shortSecret = Convert.ToBase64String(new byte[16]);
            await File.WriteAllTextAsync(bFile, KeyFile(PartyA, ("k3", shortSecret, start)));
            var problem = await rejected.Task.DefaultTimeout();
            await progress.WhenAtLeast(progress.Count + 20).DefaultTimeout();

            // Assert
            Assert.Contains($"{bFile} keys[0].Secret: 16 bytes", problem, StringComparison.Ordinal);
            Assert.DoesNotContain(shortSecret, problem, StringComparison.Ordinal);
        }
        finally
        {
            await stop.CancelAsync();
            await load.DefaultTimeout();
        }

        Assert.Empty(failures);
        cluster.AssertNoUnexpectedErrors(1418);
    }

    /// <summary>A pop by a local service at B, on B's intra-site port.</summary>
    private static async Task<string> PopAtBAsync(TestCluster cluster, TlsSite site, string topic)
    {
        var popper = new PrivateTransferTransport.PrivateTransferTransportClient(cluster.Channel(site.B));
        var session = new Metadata { { PtpHeaders.SessionId, Session }, { PtpHeaders.TechProviderCode, "FATE" } };
        var popped = await popper.popAsync(new PopInbound { Topic = topic, Timeout = 10_000 }, session, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        Assert.True(popped.Code == PtpCodes.Success, $"{popped.Code} {popped.Message}");
        return popped.Payload.ToStringUtf8();
    }

    /// <summary>A gateway clock that is <paramref name="skew"/> off.</summary>
    private sealed class SkewedClock(TimeSpan skew) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + skew;
    }
}
