using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using Xunit.Abstractions;
using Metadata = Grpc.Core.Metadata;

namespace SiteX.FunctionalTests.Security;

/// <summary>
/// The admin plane: a bearer token on the admin port (health and metrics stay open), every change audited, and the
/// admin API out of reach of the gRPC and HTTP data ports, of requests forwarded by a gateway, and of <c>invoke</c>.
/// </summary>
public sealed class AdminPlaneTests(ITestOutputHelper output)
{
    private const string Party = "9999";
    private const string Session = "session-admin";
    private const string Topic = "topic-admin";
    private const int AdminChangeEventId = 1500;
    private const int AdminRefusedEventId = 1501;
    private const int AdminRefusedDetailEventId = 1502;

    /// <summary>The admin endpoints, and OSX's router admin paths, as a data-plane client could try them.</summary>
    public static TheoryData<string, string> AdminPaths => new()
    {
        { "GET", "/healthz" },
        { "GET", "/metrics" },
        { "GET", "/v1/queues" },
        { "POST", "/v1/queues/release" },
        { "POST", "/v1/inner/router/set" },
        { "POST", "/v1/inner/router/add" },
        { "GET", "/v1/inner/router/get" },
    };

    private static async Task<TestGateway> StartWithMessagesAsync(TestCluster cluster, Action<SiteX.Server.Configuration.SiteXOptions>? configure = null, string? table = null)
    {
        var gateway = await cluster.StartGatewayAsync("A", Party, table ?? RouteJson.Osx(Party), configure: configure);
        var producer = new FateMqClient(gateway.GrpcPort, Session, Party, "guest");
        for (var i = 0; i < 2; i++)
        {
            var reply = await producer.ProduceAsync(Party, Topic, "m", i.ToString(System.Globalization.CultureInfo.InvariantCulture), [1, 2, 3]).DefaultTimeout();
            Assert.Equal(PtpCodes.Success, reply.Code);
        }

        return gateway;
    }

    private static int Depth(TestGateway gateway) => gateway.Queues.Snapshot().Sum(s => s.Depth);

    [Fact]
    public async Task AdminApi_NoTokenWrongTokenRightToken_401_401_200_WhileHealthAndMetricsStayOpen()
    {
        // Arrange: no token configured, so the gateway generated one into its data directory.
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", Party, RouteJson.Osx(Party));
        var tokenFile = Path.Combine(gateway.Server.Options.DataDir, "admin.token");
        using var anonymous = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{gateway.AdminPort}") };
        using var wrong = gateway.AdminClient("a-token-that-is-long-but-wrong");
        using var right = gateway.AdminClient();

        // Act
        using var noToken = await anonymous.GetAsync("/v1/queues").DefaultTimeout();
        using var wrongToken = await wrong.GetAsync("/v1/queues").DefaultTimeout();
        using var basic = new HttpRequestMessage(HttpMethod.Get, "/v1/queues") { Headers = { Authorization = new AuthenticationHeaderValue("Basic", "YWRtaW46YWRtaW4=") } };
        using var basicAuth = await anonymous.SendAsync(basic).DefaultTimeout();
        using var releaseNoToken = await anonymous.PostAsJsonAsync("/v1/queues/release", new { session = Session }).DefaultTimeout();
        using var unknownNoToken = await anonymous.GetAsync("/v1/routes").DefaultTimeout();
        using var rightToken = await right.GetAsync("/v1/queues").DefaultTimeout();
        using var unknownRightToken = await right.GetAsync("/v1/routes").DefaultTimeout();
        using var health = await anonymous.GetAsync("/healthz").DefaultTimeout();
        using var metrics = await anonymous.GetAsync("/metrics").DefaultTimeout();

        // Assert
        foreach (var refused in new[] { noToken, wrongToken, basicAuth, releaseNoToken, unknownNoToken })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.StartsWith("Bearer realm=\"sitex-admin\"", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
            using var json = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Equal("unauthorized", json.RootElement.GetProperty("error").GetString());
        }

        Assert.Contains("error=\"invalid_token\"", wrongToken.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, rightToken.StatusCode);
        Assert.Contains("\"sessions\"", await rightToken.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, unknownRightToken.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal(43, (await File.ReadAllTextAsync(tokenFile)).Trim().Length); // 256 bits, base64url
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        }

        Assert.DoesNotContain(gateway.Logs.Entries, e => e.Message.Contains(gateway.AdminToken, StringComparison.Ordinal));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task AdminApi_ConfiguredToken_IsTheOnlyToken_AndNoTokenFileIsWritten()
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        const string token = "operator-chosen-admin-token-42";
        var gateway = await cluster.StartGatewayAsync("A", Party, RouteJson.Osx(Party), configure: o => o.Admin.Token = token);
        using var right = gateway.AdminClient(token);
        using var other = gateway.AdminClient(token + "x");

        // Act
        using var accepted = await right.GetAsync("/v1/queues").DefaultTimeout();
        using var refused = await other.GetAsync("/v1/queues").DefaultTimeout();

        // Assert
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.False(File.Exists(Path.Combine(gateway.Server.Options.DataDir, "admin.token")));
    }

    [Fact]
    public async Task QueueRelease_IsAudited_WithRemoteAddressEndpointAndWhatChanged()
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var gateway = await StartWithMessagesAsync(cluster);
        using var admin = gateway.AdminClient();
        var audited = gateway.Logs.WaitForAsync(e => e.EventId.Id == AdminChangeEventId);

        // Act
        using var response = await admin.PostAsJsonAsync("/v1/queues/release", new { session = Session, topic = Topic }).DefaultTimeout();

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var entry = await audited.DefaultTimeout();
        output.WriteLine(entry.ToString());
        Assert.Equal("SiteX.Audit", entry.Category.Split(':')[^1]);
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.Equal($"Admin change from 127.0.0.1: POST /v1/queues/release: released topic {Topic} of session {Session}: 2 unconsumed message(s) dropped", entry.Message);
        Assert.Equal(0, Depth(gateway));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task AdminApi_RefusedRequests_OneWarningPerMinuteEachAtDebug_AndNothingChanges()
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var gateway = await StartWithMessagesAsync(cluster);
        using var wrong = gateway.AdminClient("not-the-admin-token-of-this-gateway");

        // Act
        for (var i = 0; i < 5; i++)
        {
            using var response = await wrong.PostAsJsonAsync("/v1/queues/release", new { session = Session }).DefaultTimeout();
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        // Assert
        var entries = gateway.Logs.Entries;
        var warning = Assert.Single(entries, e => e.EventId.Id == AdminRefusedEventId);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("a request with a wrong token from 127.0.0.1 for POST /v1/queues/release", warning.Message, StringComparison.Ordinal);
        Assert.Equal(5, entries.Count(e => e.EventId.Id == AdminRefusedDetailEventId));
        Assert.DoesNotContain(entries, e => e.EventId.Id == AdminChangeEventId);
        Assert.Equal(2, Depth(gateway));
    }

    [Theory]
    [MemberData(nameof(AdminPaths))]
    public async Task AdminPath_OnTheGrpcAndHttpDataPorts_IsNeverTheAdminApi(string method, string path)
    {
        // Arrange: the right token in hand, as an insider on the data plane would have.
        await using var cluster = new TestCluster(output);
        var gateway = await StartWithMessagesAsync(cluster);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });

        foreach (var (port, version) in new[] { (gateway.GrpcPort, HttpVersion.Version20), (gateway.HttpPort, HttpVersion.Version11) })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri($"http://127.0.0.1:{port}{path}"))
            {
                Version = version,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Headers = { Authorization = new AuthenticationHeaderValue("Bearer", gateway.AdminToken) },
            };
            if (method == "POST")
            {
                request.Content = JsonContent.Create(new { session = Session });
            }

            // Act
            using var response = await http.SendAsync(request).DefaultTimeout();
            var body = await response.Content.ReadAsStringAsync();
            output.WriteLine($"{method} {path} on port {port} (HTTP/{version}): {(int)response.StatusCode} {body}");

            // Assert: a forwarding request with no target, answered by the data plane, not the admin API.
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("missing_target", response.Headers.GetValues("x-sitex-error").Single());
            Assert.DoesNotContain("\"sessions\"", body, StringComparison.Ordinal);
            Assert.DoesNotContain("\"released\"", body, StringComparison.Ordinal);
            Assert.DoesNotContain("sitex_requests", body, StringComparison.Ordinal);
            Assert.DoesNotContain("\"status\"", body, StringComparison.Ordinal);
        }

        Assert.Equal(2, Depth(gateway));
        Assert.DoesNotContain(gateway.Logs.Entries, e => e.EventId.Id == AdminChangeEventId);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task AdminPaths_OnTheInterSiteTlsPorts_AreNeverTheAdminApi()
    {
        // Arrange: a peer with a valid client certificate, holding the admin token too.
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        var producer = new FateMqClient(site.B.GrpcPort, Session, TlsSite.PartyB, "host");
        Assert.Equal(PtpCodes.Success, (await producer.ProduceAsync(TlsSite.PartyB, Topic, "m", "0", [1]).DefaultTimeout()).Code);
        using var peer = site.PeerA9999();

        foreach (var (port, version) in new[] { (site.B.GrpcTlsPort, HttpVersion.Version20), (site.B.HttpsPort, HttpVersion.Version11), (site.B.HttpsPort, HttpVersion.Version20) })
        {
            foreach (var (method, path) in AdminPaths.Select(row => ((string)row[0], (string)row[1])))
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), new Uri($"https://127.0.0.1:{port}{path}"))
                {
                    Version = version,
                    VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                    Headers = { Authorization = new AuthenticationHeaderValue("Bearer", site.B.AdminToken) },
                };
                if (method == "POST")
                {
                    request.Content = JsonContent.Create(new { session = Session });
                }

                // Act
                using var response = await peer.Http.SendAsync(request).DefaultTimeout();
                var body = await response.Content.ReadAsStringAsync();
                output.WriteLine($"{method} {path} on TLS port {port} (HTTP/{version}): {(int)response.StatusCode} {body}");

                // Assert: refused by the data plane (no target, or a local operation), never answered by the admin API.
                var error = response.Headers.GetValues("x-sitex-error").Single();
                Assert.True(error is "missing_target" or "local_only", error);
                Assert.Equal(path.StartsWith("/v1/inner/", StringComparison.Ordinal) ? "local_only" : "missing_target", error);
                Assert.DoesNotContain("\"sessions\"", body, StringComparison.Ordinal);
                Assert.DoesNotContain("\"released\"", body, StringComparison.Ordinal);
                Assert.DoesNotContain("sitex_requests", body, StringComparison.Ordinal);
            }
        }

        Assert.Equal(1, Depth(site.B));
        Assert.DoesNotContain(site.B.Logs.Entries, e => e.EventId.Id == AdminChangeEventId);
    }

    [Fact]
    public async Task AdminPort_RoutedAsAServiceOfTheSelfParty_RefusesEveryRequestForwardedToIt()
    {
        // Arrange: a (mis)configured route that names the admin port as service "admin" of the self party.
        await using var cluster = new TestCluster(output);
        var gateway = await StartWithMessagesAsync(cluster);
        var before = gateway.Routes.Current.Version;
        var routed = gateway.WaitForTableAsync(t => t.Version > before);
        gateway.WriteRouteTable(RouteJson.Osx(Party, [], [new HttpRoute(Party, "admin", $"http://127.0.0.1:{gateway.AdminPort}")], []));
        await routed.DefaultTimeout();
        using var http = HttpSites.Client();
        var attempts = new List<(string Method, string Path)> { ("GET", "/v1/queues"), ("POST", "/v1/queues/release"), ("GET", "/healthz"), ("GET", "/metrics") };

        foreach (var (method, path) in attempts)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri($"http://127.0.0.1:{gateway.HttpPort}{path}"))
            {
                Headers = { Authorization = new AuthenticationHeaderValue("Bearer", gateway.AdminToken) },
            };
            request.Headers.Add(PtpHeaders.TargetNodeId, Party);
            request.Headers.Add(PtpHeaders.TargetComponentName, "admin");
            if (method == "POST")
            {
                request.Content = JsonContent.Create(new { session = Session });
            }

            // Act
            using var response = await http.SendAsync(request).DefaultTimeout();
            var body = await response.Content.ReadAsStringAsync();
            output.WriteLine($"{method} {path} through the data plane: {(int)response.StatusCode} {body}");

            // Assert
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            using var json = JsonDocument.Parse(body);
            Assert.Equal("forbidden", json.RootElement.GetProperty("error").GetString());
        }

        Assert.Equal(2, Depth(gateway));
        Assert.DoesNotContain(gateway.Logs.Entries, e => e.EventId.Id == AdminChangeEventId);
    }

    public static TheoryData<string> AdminUris => new()
    {
        "/v1/inner/router/set",
        "/v1/inner/router/add",
        "/v1/queues/release",
        "/v1/queues",
        "/healthz",
        "/metrics",
        "http://127.0.0.1:9380/v1/queues/release",
        "/org.ppc.ptp.PrivateTransferTransport/release",
    };

    [Theory]
    [MemberData(nameof(AdminUris))]
    public async Task AdminUri_ThroughInvoke_OnBothPorts_IsRefusedAndChangesNothing(string uri)
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var gateway = await StartWithMessagesAsync(cluster);
        var release = JsonSerializer.SerializeToUtf8Bytes(new { session = Session });
        var grpc = new PrivateTransferProtocol.PrivateTransferProtocolClient(cluster.Channel(gateway));
        var headers = new Metadata
        {
            { PtpHeaders.TechProviderCode, "FATE" },
            { PtpHeaders.TargetNodeId, Party },
            { PtpHeaders.SessionId, Session },
            { PtpHeaders.Uri, uri },
            { "authorization", $"Bearer {gateway.AdminToken}" },
        };
        using var http = new HttpClient();
        var chan = new HttpChanClient(http, gateway.HttpPort, Session, Party);

        // Act
        var overGrpc = await grpc.invokeAsync(new Inbound { Payload = ByteString.CopyFrom(release) }, headers, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        var overHttp = await chan.InvokeAsync(Party, uri, release, ("authorization", $"Bearer {gateway.AdminToken}")).DefaultTimeout();

        // Assert
        Assert.Equal(PtpCodes.InvalidRequest, overGrpc.Code);
        Assert.Contains("cannot be invoked", overGrpc.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, overHttp.Status);
        Assert.Equal(PtpCodes.InvalidRequest, overHttp.Code);
        Assert.Contains("cannot be invoked", overHttp.Message, StringComparison.Ordinal);
        Assert.Equal(2, Depth(gateway));
        Assert.DoesNotContain(gateway.Logs.Entries, e => e.EventId.Id == AdminChangeEventId);
        cluster.AssertNoUnexpectedErrors();
    }
}
