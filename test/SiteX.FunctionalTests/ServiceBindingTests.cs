using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

/// <summary>Clients that cannot add routing headers reach a service through a gRPC service-name rule.</summary>
public sealed class ServiceBindingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task GrpcServiceBinding_ClientSendsNoHeaders_ReachesServiceBehindPeer()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster, new Binding(TestCluster.EchoService, TwoSites.PartyB, "echo"));
        var client = cluster.EchoClient(sites.A);

        // No x-ptp-* header at all: an unmodified gRPC client pointed at its own site's gateway.
        var reply = await client.UnaryAsync(new EchoRequest { Text = "bound", EchoMetadata = true }, deadline: TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        using var stream = client.Duplex(deadline: TestCluster.Deadline());
        await stream.RequestStream.WriteAsync(new EchoRequest { Text = "bound duplex" }).DefaultTimeout();
        Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        var duplexReply = stream.ResponseStream.Current;
        await stream.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await stream.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());

        Assert.Equal("bound", reply.Text);
        Assert.Equal("echo-b", reply.ServedBy);
        // Gateway A named the target for gateway B, which routes by headers only.
        Assert.Equal(TwoSites.PartyB, reply.Metadata["x-ptp-target-node-id"]);
        Assert.Equal("echo", reply.Metadata["x-ptp-target-component-name"]);
        Assert.Equal("bound duplex", duplexReply.Text);
        Assert.Equal(2, sites.Echo.Observer.CallsCompleted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task NoBindingAndNoHeaders_IsRejectedAsMissingTarget()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync(new EchoRequest(), deadline: TestCluster.Deadline()).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("x-ptp-target-node-id", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("missing_target", ex.Trailers.GetValue("x-sitex-error"));
        Leaks.AssertNone(ex.Status.Detail, sites.B.GrpcPort, sites.Echo.Port);
        Assert.Equal(0, sites.Echo.Observer.CallsStarted);
        cluster.AssertNoUnexpectedErrors();
    }
}
