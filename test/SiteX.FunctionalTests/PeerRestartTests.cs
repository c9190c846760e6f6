using System.Diagnostics;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

/// <summary>A peer site's gateway goes away and comes back while the local gateway keeps running.</summary>
public class PeerRestartTests(ITestOutputHelper output)
{
    /// <summary>The forwarding engine of the gateways; null: the default (<see cref="YarpPeerRestartTests"/> runs these
    /// on YARP).</summary>
    protected virtual SiteX.Server.Configuration.ForwardingEngine? Engine => null;

    /// <summary>What serves HTTP/2 on the gateways' gRPC ports; null: the default.</summary>
    protected virtual SiteX.Server.Configuration.Http2ServerEngine? Http2Server => null;

    private TestCluster NewCluster() => new(output) { Engine = Engine, Http2Server = Http2Server };

    [Fact]
    public async Task PeerGateway_StoppedAndRestartedOnSamePort_CallsFailFastThenSucceedWithoutRestartingA()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);
        var target = TestCluster.Target(TwoSites.PartyB, "echo");
        Assert.Equal("echo-b", (await client.UnaryAsync(new EchoRequest(), target, TestCluster.Deadline()).ResponseAsync.DefaultTimeout()).ServedBy);
        var peerPort = sites.B.GrpcPort;

        // Peer down.
        await sites.B.DisposeAsync();
        for (var i = 0; i < 3; i++)
        {
            var started = Stopwatch.StartNew();
            using var call = client.UnaryAsync(new EchoRequest(), target, TestCluster.Deadline());
            var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
            output.WriteLine($"peer down, call {i}: {ex.StatusCode} \"{ex.Status.Detail}\" after {started.ElapsedMilliseconds} ms");

            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
            Assert.Equal("next_hop_unreachable", ex.Trailers.GetValue("x-sitex-error"));
            Assert.Contains(TwoSites.PartyA, ex.Status.Detail, StringComparison.Ordinal);
            Assert.Contains(TwoSites.PartyB, ex.Status.Detail, StringComparison.Ordinal);
            Leaks.AssertNone(ex.Status.Detail, peerPort, sites.Echo.Port);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(3), $"failing took {started.Elapsed}; it must not wait for a timeout");
        }

        // Peer back on the same port; A is untouched.
        var restarted = await cluster.StartGatewayAsync("B", TwoSites.PartyB, RouteJson.Osx(TwoSites.PartyB, new Route(TwoSites.PartyB, "echo", sites.Echo.Port)), peerPort);
        Assert.Equal(peerPort, restarted.GrpcPort);
        for (var i = 0; i < 3; i++)
        {
            var reply = await client.UnaryAsync(new EchoRequest { Text = $"back {i}" }, target, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
            Assert.Equal($"back {i}", reply.Text);
        }

        cluster.AssertNoUnexpectedErrors();
    }
}
