using System.Net.Http;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

/// <summary>Gateways multiplex calls to a next hop over pooled HTTP/2 connections instead of dialling per call.</summary>
public sealed class ConnectionReuseTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ManyCalls_ThroughGatewayA_ShareOneConnectionToGatewayB()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);
        await client.UnaryAsync(new EchoRequest { Text = "warm" }, TestCluster.Target(TwoSites.PartyB), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        // 200 calls, 20 at a time, plus a few streams.
        for (var round = 0; round < 10; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
                client.UnaryAsync(new EchoRequest { Text = $"{round}-{i}" }, TestCluster.Target(TwoSites.PartyB), TestCluster.Deadline()).ResponseAsync)).DefaultTimeout();
        }

        using var stream = client.Duplex(TestCluster.Target(TwoSites.PartyB), TestCluster.Deadline());
        await stream.RequestStream.WriteAsync(new EchoRequest { Text = "ping" }).DefaultTimeout();
        Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        await stream.RequestStream.CompleteAsync().DefaultTimeout();

        using var http = new HttpClient();
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{sites.B.AdminPort}/metrics").DefaultTimeout();
        var accepted = metrics.Split('\n').Single(l => l.StartsWith("sitex_connections_total{", StringComparison.Ordinal) && l.Contains("sitex_listener=\"grpc\"", StringComparison.Ordinal));
        output.WriteLine(accepted);
        Assert.EndsWith(" 1", accepted.TrimEnd(), StringComparison.Ordinal);
        cluster.AssertNoUnexpectedErrors();
    }
}
