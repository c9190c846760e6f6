using System.Net;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol;
using SiteX.Protocol.Eggroll.Proxy;
using SiteX.Protocol.Ptp;
using SiteX.Samples;
using SiteX.Samples.V1;
using Xunit.Abstractions;
using Metadata = Grpc.Core.Metadata;
using PacketMetadata = SiteX.Protocol.Eggroll.Proxy.Metadata;
using Task = System.Threading.Tasks.Task;

namespace SiteX.FunctionalTests.Security;

/// <summary>
/// The route table's <c>permission</c> rules on every path that forwards, relays or stores: a denied
/// (party, service) pair is refused by the gateway that denies it with <c>permission_denied</c> naming the pair and the
/// rule, nothing of the call goes further; the allowed pairs pass.
/// </summary>
public sealed class PermissionTests(ITestOutputHelper output)
{
    private const string PartyA = TwoSites.PartyA;
    private const string PartyB = TwoSites.PartyB;
    private const int PermissionDeniedEventId = 1510;
    private const int RouteTableRejectedEventId = 1001;

    private sealed record Sites(TestGateway A, TestGateway B, RunningSample Echo);

    /// <summary>A (9999) routes 10000 to B; B (10000) serves <c>echo</c> and <c>echo2</c>, both the sample Echo server.</summary>
    private static async Task<Sites> StartAsync(TestCluster cluster, string? permissionAtA = null, string? permissionAtB = null)
    {
        var echo = await cluster.StartSampleAsync("echo-b");
        var tableB = RouteJson.Osx(PartyB, new Route(PartyB, "echo", echo.Port), new Route(PartyB, "echo2", echo.Port));
        var b = await cluster.StartGatewayAsync("B", PartyB, permissionAtB is null ? tableB : RouteJson.WithPermission(tableB, permissionAtB));
        var tableA = RouteJson.Osx(PartyA, new Route(PartyB, "default", b.GrpcPort));
        var a = await cluster.StartGatewayAsync("A", PartyA, permissionAtA is null ? tableA : RouteJson.WithPermission(tableA, permissionAtA));
        return new Sites(a, b, echo);
    }

    private static Task<EchoReply> EchoAsync(TestCluster cluster, TestGateway gateway, string service, params (string Key, string Value)[] extra)
    {
        var headers = TestCluster.Target(PartyB, service);
        foreach (var (key, value) in extra)
        {
            headers.Add(key, value);
        }

        return cluster.EchoClient(gateway).UnaryAsync(new EchoRequest { Text = service }, headers, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
    }

    /// <summary>Waits until a gateway's flow.log holds <paramref name="count"/> lines and returns them. The log is
    /// written in call order, so once a later call's line is there, an earlier call would have left its line too.</summary>
    private static async Task<string[]> FlowLinesAsync(TestGateway gateway, int count) =>
        (await Eventually.ReturnsAsync(() => SharedFile.ReadAsync(gateway.AccessLogFile),
            text => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= count, $"{count} flow.log line(s) at {gateway.Name}"))
        .Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task PassThrough_DeniedPair_RefusedAtANothingReachesB_AllowedPairPasses()
    {
        // Arrange: A lets its site reach (10000, echo) and nothing else.
        await using var cluster = new TestCluster(output);
        var sites = await StartAsync(cluster, permissionAtA: """
            { "default": "deny", "rules": [ { "to": { "party": "10000", "service": "echo" }, "action": "allow" } ] }
            """);
        var logged = sites.A.Logs.WaitForAsync(e => e.EventId.Id == PermissionDeniedEventId);

        // Act
        var denied = await Assert.ThrowsAsync<RpcException>(() => EchoAsync(cluster, sites.A, "echo2"));
        var allowed = await EchoAsync(cluster, sites.A, "echo");

        // Assert
        output.WriteLine($"caller sees: {denied.StatusCode} \"{denied.Status.Detail}\"");
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal("permission_denied", denied.Trailers.GetValue("x-sitex-error"));
        Assert.Equal("SiteX gateway 9999: permission denied: party 9999 may not reach party 10000 service echo2 (rule permission.default)", denied.Status.Detail);
        Assert.Equal("echo", allowed.Text);
        Assert.Equal("echo-b", allowed.ServedBy);
        var line = Assert.Single(await FlowLinesAsync(sites.B, 1));
        Assert.Contains("|des:10000|", line, StringComparison.Ordinal);
        Assert.Equal(1, sites.Echo.Observer.CallsStarted);
        var entry = await logged.DefaultTimeout();
        Assert.Contains("permission.default", entry.Message, StringComparison.Ordinal);
        var flowA = await FlowLinesAsync(sites.A, 2);
        Assert.Contains(flowA, l => l.Contains("|code:7|", StringComparison.Ordinal) && l.Contains("permission denied", StringComparison.Ordinal));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PassThrough_WildcardsAndSpecificity_TheMostSpecificRuleDecides()
    {
        // Arrange: nobody reaches 10000, except site 9999's callers reach echo, except its "guest" component.
        await using var cluster = new TestCluster(output);
        var sites = await StartAsync(cluster, permissionAtA: """
            {
              "default": "allow",
              "rules": [
                { "from": { "party": "*", "service": "*" }, "to": { "party": "10000", "service": "*" }, "action": "deny" },
                { "from": { "party": "9999" }, "to": { "party": "10000", "service": "echo" }, "action": "allow" },
                { "from": { "party": "9999", "service": "guest" }, "to": { "party": "10000", "service": "echo" }, "action": "deny" }
              ]
            }
            """);

        // Act
        var ownSite = await EchoAsync(cluster, sites.A, "echo");
        var asHost = await EchoAsync(cluster, sites.A, "echo", (PtpHeaders.SourceComponentName, "host"));
        var asGuest = await Assert.ThrowsAsync<RpcException>(() => EchoAsync(cluster, sites.A, "echo", (PtpHeaders.SourceComponentName, "guest")));
        var asFateGuest = await Assert.ThrowsAsync<RpcException>(() => EchoAsync(cluster, sites.A, "echo", (PtpHeaders.FateSrcRole, "guest")));
        var otherService = await Assert.ThrowsAsync<RpcException>(() => EchoAsync(cluster, sites.A, "echo2"));
        var otherParty = await Assert.ThrowsAsync<RpcException>(() => EchoAsync(cluster, sites.A, "echo", (PtpHeaders.SourceNodeId, "8888")));

        // Assert
        Assert.Equal("echo-b", ownSite.ServedBy);
        Assert.Equal("echo-b", asHost.ServedBy);
        Assert.EndsWith("party 9999 service guest may not reach party 10000 service echo (rule permission.rules[2])", asGuest.Status.Detail, StringComparison.Ordinal);
        Assert.EndsWith("(rule permission.rules[2])", asFateGuest.Status.Detail, StringComparison.Ordinal);
        Assert.EndsWith("party 9999 may not reach party 10000 service echo2 (rule permission.rules[0])", otherService.Status.Detail, StringComparison.Ordinal);
        Assert.EndsWith("party 8888 may not reach party 10000 service echo (rule permission.rules[0])", otherParty.Status.Detail, StringComparison.Ordinal);
        Assert.All(new[] { asGuest, asFateGuest, otherService, otherParty }, ex => Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode));
        Assert.Equal(2, sites.Echo.Observer.CallsStarted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PassThrough_DenyRuleAtB_JudgesTheCallerByItsFirstGateway_AndTheRefusalComesBackThroughA()
    {
        // Arrange: B refuses echo2 to callers from site 9999. The application at A names no source party: B knows the
        // call entered at 9999 from x-sitex-via.
        await using var cluster = new TestCluster(output);
        var sites = await StartAsync(cluster, permissionAtB: """
            { "default": "allow", "rules": [ { "from": { "party": "9999" }, "to": { "service": "echo2" }, "action": "deny" } ] }
            """);

        // Act
        var denied = await Assert.ThrowsAsync<RpcException>(() => EchoAsync(cluster, sites.A, "echo2"));
        var allowed = await EchoAsync(cluster, sites.A, "echo");

        // Assert
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal("SiteX gateway 10000: permission denied: party 9999 may not reach party 10000 service echo2 (rule permission.rules[0])", denied.Status.Detail);
        Assert.Equal("echo-b", allowed.ServedBy);
        Assert.Equal(1, sites.Echo.Observer.CallsStarted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Exchange_DenyRule_StopsTheRelay_AllowedPairStillRelays()
    {
        // Arrange: A -> exchange -> B; the exchange may relay 9999 -> (10000, echo) and nothing else.
        await using var cluster = new TestCluster(output);
        var echo = await cluster.StartSampleAsync("echo-b");
        var b = await cluster.StartGatewayAsync("B", PartyB, RouteJson.Osx(PartyB, new Route(PartyB, "echo", echo.Port), new Route(PartyB, "echo2", echo.Port)));
        var a = await cluster.StartGatewayAsync("A", PartyA, RouteJson.Osx(PartyA, new Route("default", "default", b.GrpcPort)));
        var e = await cluster.StartGatewayAsync("E", "exchange", RouteJson.WithPermission(
            RouteJson.Osx("exchange", new Route(PartyA, "default", a.GrpcPort), new Route(PartyB, "default", b.GrpcPort)),
            """{ "default": "deny", "rules": [ { "from": { "party": "9999" }, "to": { "party": "10000", "service": "echo" }, "action": "allow" } ] }"""));
        var viaExchange = a.WaitForTableAsync(t => TestGateway.RoutedPort(t, PartyB, "echo") == e.GrpcPort);
        a.WriteRouteTable(RouteJson.Osx(PartyA, new Route("default", "default", e.GrpcPort)));
        await viaExchange.DefaultTimeout();

        // Act
        var denied = await Assert.ThrowsAsync<RpcException>(() => EchoAsync(cluster, a, "echo2"));
        var allowed = await EchoAsync(cluster, a, "echo");

        // Assert
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal("SiteX gateway exchange: permission denied: party 9999 may not reach party 10000 service echo2 (rule permission.default)", denied.Status.Detail);
        Assert.Equal("echo-b", allowed.ServedBy);
        Assert.Single(await FlowLinesAsync(b, 1));
        Assert.Equal(1, echo.Observer.CallsStarted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PacketUnaryCall_OsxFateServingPermissionSection_DeniesServingAllowsFateflow()
    {
        // Arrange: FATE-Serving's own shape of the section in an OSX route table at A.
        await using var cluster = new TestCluster(output);
        var fateflow = await cluster.StartFakeFateAsync("fateflow-b");
        var serving = await cluster.StartFakeFateAsync("serving-b");
        var b = await cluster.StartGatewayAsync("B", PartyB, RouteJson.Osx(PartyB, new Route(PartyB, "fateflow", fateflow.Port), new Route(PartyB, "serving", serving.Port)));
        var a = await cluster.StartGatewayAsync("A", PartyA, RouteJson.WithPermission(RouteJson.Osx(PartyA, new Route(PartyB, "default", b.GrpcPort)), """
            {
              "default_allow": true,
              "allow": [ { "from": { "coordinator": "9999", "role": "fateflow" }, "to": { "coordinator": "10000", "role": "serving" } } ],
              "deny":  [ { "from": { "coordinator": "9999", "role": "*" }, "to": { "coordinator": "10000", "role": "serving" } } ]
            }
            """));
        var client = new DataTransferService.DataTransferServiceClient(cluster.Channel(a));

        // Act: FATE-Serving's rule: the deny wins over the (more specific) allow.
        var denied = await Assert.ThrowsAsync<RpcException>(() => client.unaryCallAsync(Packet("fateflow", "serving"), new Metadata(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        var allowed = await client.unaryCallAsync(Packet("fateflow", "fateflow"), new Metadata(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        // Assert
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal("SiteX gateway 9999: permission denied: party 9999 service fateflow may not reach party 10000 service serving (rule permission.deny[0])", denied.Status.Detail);
        Assert.Equal(PartyB, allowed.Header.Src.PartyId);
        Assert.Equal(1, fateflow.Service.UnaryCalls);
        Assert.Equal(0, serving.Service.UnaryCalls);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task GrpcInvokeRelay_DeniedAtA_AnsweredE0000000403_NothingReachesB()
    {
        // Arrange: A lets nothing into 10000's queues.
        await using var cluster = new TestCluster(output);
        var (guest, host) = await QueueSites.StartAsync(cluster);
        await ApplyAsync(guest, RouteJson.WithPermission(RouteJson.Osx(PartyA, new Route(PartyB, "default", host.GrpcPort)),
            """{ "default": "allow", "rules": [ { "to": { "party": "10000", "service": "queue" }, "action": "deny" } ] }"""));
        var client = new PrivateTransferProtocol.PrivateTransferProtocolClient(cluster.Channel(guest));
        var headers = new Metadata
        {
            { PtpHeaders.TechProviderCode, "FATE" },
            { PtpHeaders.SourceNodeId, PartyA },
            { PtpHeaders.TargetNodeId, PartyB },
            { PtpHeaders.SessionId, "session-acl" },
            { PtpHeaders.Uri, PtpMethods.OsxPushUri },
        };
        var inbound = new Inbound { Payload = new PushInbound { Topic = "t", Payload = ByteString.CopyFromUtf8("secret") }.ToByteString() };

        // Act
        var call = client.invokeAsync(inbound, headers, TestCluster.Deadline());
        var reply = await call.ResponseAsync.DefaultTimeout();

        // Assert
        Assert.Equal(PtpCodes.Unauthorized, reply.Code);
        Assert.Equal("SiteX gateway 9999: permission denied: party 9999 may not reach party 10000 service queue (rule permission.rules[0])", reply.Message);
        Assert.Equal("permission_denied", (await call.ResponseHeadersAsync.DefaultTimeout()).GetValue("x-sitex-error"));
        Assert.Empty(host.Queues.Snapshot());
        Assert.Equal("", await SharedFile.ReadAsync(host.AccessLogFile));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task QueuePushRelay_HostAllowsOnlyListedSources_ListedStoredUnlistedRefused()
    {
        // Arrange: the host takes queue pushes from 9999 only; the guest's gateway relays whatever its site pushes.
        await using var cluster = new TestCluster(output);
        var (guest, host) = await QueueSites.StartAsync(cluster);
        await ApplyAsync(host, RouteJson.WithPermission(RouteJson.Osx(PartyB, new Route(PartyA, "default", guest.GrpcPort)),
            """{ "default": "deny", "rules": [ { "from": { "party": "9999" }, "to": { "party": "10000", "service": "queue" }, "action": "allow" } ] }"""));
        const string session = "session-relay-acl";
        var topic = FateMqClient.Topic(session, "guest", PartyA, "host", PartyB, "x");

        // Act
        var listed = await new FateMqClient(guest.GrpcPort, session, PartyA, "guest").ProduceAsync(PartyB, topic, "x", "0", [1, 2, 3]).DefaultTimeout();
        var unlisted = await new FateMqClient(guest.GrpcPort, session, "7777", "guest").ProduceAsync(PartyB, topic, "x", "1", [4, 5, 6]).DefaultTimeout();

        // Assert
        Assert.Equal(PtpCodes.Success, listed.Code);
        Assert.Equal(PtpCodes.Unauthorized, unlisted.Code);
        Assert.Equal("SiteX gateway 10000: permission denied: party 7777 may not reach party 10000 service queue (rule permission.default)", unlisted.Message);
        var consumed = await new FateMqClient(host.GrpcPort, session, PartyB, "host").ConsumeAsync(topic, 5_000).DefaultTimeout();
        Assert.Equal([1, 2, 3], consumed.Message.Body.ToByteArray());
        var depth = Assert.Single(host.Queues.Snapshot()).Depth;
        Assert.Equal(0, depth);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task HttpChanPush_DeniedForAPeer_AllowedForSelf()
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var (guest, host) = await QueueSites.StartAsync(cluster, httpHop: true);
        await ApplyAsync(guest, RouteJson.WithPermission(RouteJson.Osx(PartyA, Route.HttpGateway(PartyB, host.HttpPort)),
            """{ "default": "allow", "rules": [ { "to": { "party": "10000", "service": "queue" }, "action": "deny" } ] }"""));
        using var http = new HttpClient();
        var client = new HttpChanClient(http, guest.HttpPort, "session-http-acl", PartyA);

        // Act
        var denied = await client.PushAsync(PartyB, "t", [1, 2, 3]).DefaultTimeout();
        var own = await client.PushAsync(PartyA, "t", [4, 5, 6]).DefaultTimeout();

        // Assert
        Assert.Equal(HttpStatusCode.OK, denied.Status);
        Assert.Equal(PtpCodes.Unauthorized, denied.Code);
        Assert.Equal("SiteX gateway 9999: permission denied: party 9999 may not reach party 10000 service queue (rule permission.rules[0])", denied.Message);
        Assert.Equal(PtpCodes.Success, own.Code);
        Assert.Empty(host.Queues.Snapshot());
        Assert.Equal(PtpCodes.Success, (await client.PopAsync("t", 5_000).DefaultTimeout()).Code);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task HttpForwarding_DeniedPair_Gets403JsonAndTheServiceSeesNothing()
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        var tableA = RouteJson.Osx(PartyA, [new Route(PartyB, "default", sites.B.GrpcPort)], [], [new PathBinding(HttpSites.BoundPrefix, PartyB, HttpSites.Service)]);
        await ApplyAsync(sites.A, RouteJson.WithPermission(tableA,
            """{ "default": "allow", "rules": [ { "to": { "party": "10000", "service": "web" }, "action": "deny" } ] }"""));
        using var http = HttpSites.Client();

        // Act
        using var bound = await http.GetAsync(sites.AtA("/rest/items?q=1")).DefaultTimeout();
        using var request = sites.Request(HttpMethod.Post, "/items");
        request.Content = new StringContent("{}");
        using var named = await http.SendAsync(request).DefaultTimeout();

        // Assert
        foreach (var response in new[] { bound, named })
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("permission_denied", response.Headers.GetValues("x-sitex-error").Single());
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("E0000000403", json.RootElement.GetProperty("code").GetString());
            Assert.Equal("permission_denied", json.RootElement.GetProperty("error").GetString());
            Assert.Equal("SiteX gateway 9999: permission denied: party 9999 may not reach party 10000 service web (rule permission.rules[0])", json.RootElement.GetProperty("message").GetString());
        }

        Assert.Equal(0, sites.Web.Requests);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task HotReload_NewDenyAppliesToTheNextCall_BadPermissionEditKeepsTheOldTable()
    {
        // Arrange
        await using var cluster = new TestCluster(output);
        var sites = await StartAsync(cluster);
        var tableA = RouteJson.Osx(PartyA, new Route(PartyB, "default", sites.B.GrpcPort));
        Assert.Equal("echo-b", (await EchoAsync(cluster, sites.A, "echo")).ServedBy);

        // Act 1: a deny rule is saved.
        await ApplyAsync(sites.A, RouteJson.WithPermission(tableA, """{ "default": "allow", "rules": [ { "to": { "party": "10000" }, "action": "deny" } ] }"""));
        var afterDeny = await Assert.ThrowsAsync<RpcException>(() => EchoAsync(cluster, sites.A, "echo"));
        var version = sites.A.Routes.Current.Version;

        // Act 2: a broken permission edit (a typo in the action) is refused whole.
        var rejected = sites.A.Logs.WaitForAsync(e => e.EventId.Id == RouteTableRejectedEventId);
        sites.A.WriteRouteTable(RouteJson.WithPermission(tableA, """{ "default": "allow", "rules": [ { "to": { "party": "10000" }, "action": "alow" } ] }"""));
        await rejected.DefaultTimeout();
        var refusedEdit = sites.A.Routes.LastErrors;
        var versionAfterBadEdit = sites.A.Routes.Current.Version;
        var afterBadEdit = await Assert.ThrowsAsync<RpcException>(() => EchoAsync(cluster, sites.A, "echo"));

        // Act 3: the rule is removed.
        await ApplyAsync(sites.A, tableA);
        var afterRemoval = await EchoAsync(cluster, sites.A, "echo");

        // Assert
        Assert.Equal(StatusCode.PermissionDenied, afterDeny.StatusCode);
        var error = Assert.Single(refusedEdit);
        Assert.Equal("permission.rules[0].action", error.Path);
        Assert.Equal(version, versionAfterBadEdit);
        Assert.Equal(StatusCode.PermissionDenied, afterBadEdit.StatusCode);
        Assert.True(sites.A.Routes.Current.Version > version, "the removal was applied after the refused edit");
        Assert.Equal("echo-b", afterRemoval.ServedBy);
        Assert.Equal(2, sites.Echo.Observer.CallsStarted);
        cluster.AssertNoUnexpectedErrors(RouteTableRejectedEventId);
    }

    /// <summary>Replaces a gateway's table file and waits until the new version serves.</summary>
    private static async Task ApplyAsync(TestGateway gateway, string table)
    {
        var before = gateway.Routes.Current.Version;
        var applied = gateway.WaitForTableAsync(t => t.Version > before);
        gateway.WriteRouteTable(table);
        await applied.DefaultTimeout();
    }

    private static Packet Packet(string srcRole, string dstRole) => new()
    {
        Header = new PacketMetadata
        {
            Src = new Topic { Name = "job", PartyId = PartyA, Role = srcRole },
            Dst = new Topic { Name = "job", PartyId = PartyB, Role = dstRole },
        },
        Body = new Data { Key = "k", Value = ByteString.CopyFromUtf8("v") },
    };
}
