using Google.Protobuf;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using SiteX.Samples.V1;
using Xunit.Abstractions;
using Metadata = Grpc.Core.Metadata;

namespace SiteX.FunctionalTests;

/// <summary>
/// Routing failures a user can cause: a loop between two gateways and an unknown party, in both error styles (gRPC
/// status for pass-through calls, <c>Outbound.code</c> for PTP invoke). None of them may leak anything internal.
/// </summary>
public sealed class RoutingErrorTests(ITestOutputHelper output)
{
    private const string LoopParty = "10000";

    /// <summary>A routes 10000 to B; B (party 20000) routes 10000 back to A.</summary>
    private static async Task<(TestGateway A, TestGateway B)> StartLoopAsync(TestCluster cluster)
    {
        var a = await cluster.StartGatewayAsync("A", TwoSites.PartyA, RouteJson.Osx(TwoSites.PartyA, new Route("20000", "default", 1)));
        var b = await cluster.StartGatewayAsync("B", "20000", RouteJson.Osx("20000", new Route(LoopParty, "default", a.GrpcPort)));
        var ready = a.WaitForTableAsync(t => TestGateway.RoutedPort(t, LoopParty, "default") == b.GrpcPort);
        a.WriteRouteTable(RouteJson.Osx(TwoSites.PartyA, new Route(LoopParty, "default", b.GrpcPort)));
        await ready.DefaultTimeout();
        return (a, b);
    }

    private static Metadata InvokeHeaders(string? target)
    {
        var headers = new Metadata
        {
            { PtpHeaders.TechProviderCode, "FATE" },
            { PtpHeaders.SourceNodeId, TwoSites.PartyA },
            { PtpHeaders.SessionId, "session-1" },
            { PtpHeaders.Uri, PtpMethods.OsxPushUri },
        };
        if (target is not null)
        {
            headers.Add(PtpHeaders.TargetNodeId, target);
        }

        return headers;
    }

    private static Inbound PushInbound() => new()
    {
        Payload = new PushInbound { Topic = "topic-1", Payload = ByteString.CopyFromUtf8("data") }.ToByteString(),
    };

    [Fact]
    public async Task Loop_BetweenTwoGateways_FailsWithFailedPreconditionNamingTheParties()
    {
        await using var cluster = new TestCluster(output);
        var (a, b) = await StartLoopAsync(cluster);

        var ex = await Assert.ThrowsAsync<RpcException>(() => cluster.EchoClient(a)
            .UnaryAsync(new EchoRequest(), TestCluster.Target(LoopParty, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());

        output.WriteLine($"caller sees: {ex.StatusCode} \"{ex.Status.Detail}\"");
        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Contains("loop", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(TwoSites.PartyA, ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(LoopParty, ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("20000", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("routing_loop", ex.Trailers.GetValue("x-sitex-error"));
        Leaks.AssertNone(ex.Status.Detail, a.GrpcPort, b.GrpcPort);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Loop_PtpInvoke_AnswersOutboundCode145()
    {
        await using var cluster = new TestCluster(output);
        var (a, b) = await StartLoopAsync(cluster);
        var client = new PrivateTransferProtocol.PrivateTransferProtocolClient(cluster.Channel(a));

        var reply = await client.invokeAsync(PushInbound(), InvokeHeaders(LoopParty), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        output.WriteLine($"caller sees: {reply.Code} \"{reply.Message}\"");
        Assert.Equal(PtpCodes.CycleRouteError, reply.Code);
        Assert.Contains("loop", reply.Message, StringComparison.Ordinal);
        Assert.Contains(LoopParty, reply.Message, StringComparison.Ordinal);
        Leaks.AssertNone(reply.Message, a.GrpcPort, b.GrpcPort);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task UnknownParty_PassThrough_FailsWithNotFoundNamingTheParty()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);

        using var call = cluster.EchoClient(sites.A).UnaryAsync(new EchoRequest(), TestCluster.Target("77777", "echo"), TestCluster.Deadline());
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());

        output.WriteLine($"caller sees: {ex.StatusCode} \"{ex.Status.Detail}\"");
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Contains("77777", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(TwoSites.PartyA, ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("echo", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("no_route", ex.Trailers.GetValue("x-sitex-error"));
        Leaks.AssertNone(ex.Status.Detail, sites.B.GrpcPort, sites.Echo.Port);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task UnknownService_AtPeer_FailsWithNotFoundFromThePeer()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);

        var ex = await Assert.ThrowsAsync<RpcException>(() => cluster.EchoClient(sites.A)
            .UnaryAsync(new EchoRequest(), TestCluster.Target(TwoSites.PartyB, "nosuchservice"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());

        output.WriteLine($"caller sees: {ex.StatusCode} \"{ex.Status.Detail}\"");
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Contains("SiteX gateway 10000", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("nosuchservice", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("no_route", ex.Trailers.GetValue("x-sitex-error"));
        Leaks.AssertNone(ex.Status.Detail, sites.B.GrpcPort, sites.Echo.Port);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task UnknownParty_PtpInvoke_AnswersOutboundCode130()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);
        var client = new PrivateTransferProtocol.PrivateTransferProtocolClient(cluster.Channel(sites.A));

        var reply = await client.invokeAsync(PushInbound(), InvokeHeaders("77777"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        output.WriteLine($"caller sees: {reply.Code} \"{reply.Message}\"");
        Assert.Equal(PtpCodes.RouterError, reply.Code);
        Assert.Contains("77777", reply.Message, StringComparison.Ordinal);
        Leaks.AssertNone(reply.Message, sites.B.GrpcPort, sites.Echo.Port);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PtpInvoke_WithoutTargetNode_AnswersOutboundCode400()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);
        var client = new PrivateTransferProtocol.PrivateTransferProtocolClient(cluster.Channel(sites.A));

        var reply = await client.invokeAsync(PushInbound(), InvokeHeaders(null), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        output.WriteLine($"caller sees: {reply.Code} \"{reply.Message}\"");
        Assert.Equal(PtpCodes.InvalidRequest, reply.Code);
        Assert.Contains(PtpHeaders.TargetNodeId, reply.Message, StringComparison.Ordinal);
        Leaks.AssertNone(reply.Message, sites.B.GrpcPort, sites.Echo.Port);
        cluster.AssertNoUnexpectedErrors();
    }
}
