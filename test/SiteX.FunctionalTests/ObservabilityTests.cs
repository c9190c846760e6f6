using System.Net.Http;
using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

/// <summary>What an operator sees after traffic: Prometheus metrics, the health endpoint and flow.log lines.</summary>
public sealed class ObservabilityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task LargeCall_CrossesKestrelInIoBufferBlocks_AndTheirGaugesAreExported()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);
        var pool = sites.B.Server.Services.GetRequiredService<SiteX.Server.Hosting.IoBufferPool>();
        var client = cluster.EchoClient(sites.A);

        var payload = Google.Protobuf.ByteString.CopyFrom(new byte[1024 * 1024]);
        var reply = await client.UnaryAsync(new EchoRequest { Payload = payload }, TestCluster.Target(TwoSites.PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{sites.B.AdminPort}/metrics").DefaultTimeout();

        // Kestrel's connections at B (from A, and to the service's reply) took their buffers from SiteX's pool.
        Assert.Equal(payload.Length, reply.Payload.Length);
        Assert.True(pool.BlocksCreated > 0, "Kestrel read the call into the pool's blocks");
        var gauges = metrics.Split('\n').Where(l => l.StartsWith("sitex_io_buffers_", StringComparison.Ordinal)).ToList();
        output.WriteLine(string.Join(Environment.NewLine, gauges));
        Assert.Contains(gauges, l => l.StartsWith("sitex_io_buffers_in_use_bytes", StringComparison.Ordinal));
        Assert.Contains(gauges, l => l.StartsWith("sitex_io_buffers_idle_bytes", StringComparison.Ordinal));
        Assert.All(gauges, l => Assert.Equal(0, long.Parse(l.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture) % SiteX.Server.Hosting.IoBufferPool.BlockSize));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task AfterCalls_MetricsHealthAndAccessLogShowThem()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);
        for (var i = 0; i < 3; i++)
        {
            await client.UnaryAsync(new EchoRequest(), TestCluster.Target(TwoSites.PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        }

        await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync(new EchoRequest(), TestCluster.Target("77777", "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        using var http = new HttpClient();

        // Metrics are recorded as each call ends, just after its response went out.
        var metrics = await Eventually.ReturnsAsync(
            () => http.GetStringAsync($"http://127.0.0.1:{sites.A.AdminPort}/metrics"),
            text => text.Contains("sitex_peer_party=\"77777\"", StringComparison.Ordinal)
                && text.Split('\n').Any(l => l.Contains("sitex_peer_party=\"10000\"", StringComparison.Ordinal) && l.TrimEnd().EndsWith(" 3", StringComparison.Ordinal)),
            "sitex_requests_total at A");
        var requestLines = metrics.Split('\n').Where(l => l.StartsWith("sitex_requests_total{", StringComparison.Ordinal)).ToList();
        output.WriteLine(string.Join(Environment.NewLine, requestLines));
        Assert.Contains(requestLines, l => l.Contains("sitex_peer_party=\"10000\"", StringComparison.Ordinal) && l.Contains("sitex_service=\"echo\"", StringComparison.Ordinal) && l.TrimEnd().EndsWith(" 3", StringComparison.Ordinal));
        Assert.Contains(requestLines, l => l.Contains("sitex_peer_party=\"77777\"", StringComparison.Ordinal) && l.Contains("error_type=\"no_route\"", StringComparison.Ordinal));
        // Only A's own calls: B's (and any other gateway's in this process) are not A's to report.
        Assert.DoesNotContain(requestLines, l => l.Contains("FORWARD_LOCAL", StringComparison.Ordinal));
        Assert.Equal(2, requestLines.Count);

        using var health = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{sites.A.AdminPort}/healthz").DefaultTimeout());
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
        Assert.Equal(TwoSites.PartyA, health.RootElement.GetProperty("selfParties")[0].GetString());

        // The access log is written in the background.
        var flowA = await Eventually.ReturnsAsync(() => SharedFile.ReadAsync(sites.A.AccessLogFile),
            text => text.Split('\n').Count(l => l.Contains("|MSG_REDIRECT|", StringComparison.Ordinal) && l.Contains("|des:10000|", StringComparison.Ordinal)) >= 3
                && text.Contains("|des:77777|", StringComparison.Ordinal),
            "flow.log at A");
        var flowB = await Eventually.ReturnsAsync(() => SharedFile.ReadAsync(sites.B.AccessLogFile),
            text => text.Split('\n').Count(l => l.Contains("|FORWARD_LOCAL|", StringComparison.Ordinal) && l.Contains("|des:10000|", StringComparison.Ordinal)) >= 3,
            "flow.log at B");
        output.WriteLine("flow.log at A:" + Environment.NewLine + flowA + "flow.log at B:" + Environment.NewLine + flowB);
        Assert.Contains("|code:0|", flowA, StringComparison.Ordinal);
        Assert.Contains("|code:5|", flowA, StringComparison.Ordinal);
        cluster.AssertNoUnexpectedErrors();
    }
}
