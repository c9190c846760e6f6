using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

/// <summary>Every spelling of "target party" and "service" that FATE's clients use routes a pass-through call.</summary>
public sealed class HeaderAliasTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("x-ptp-target-node-id", "x-ptp-target-component-name")]
    [InlineData("x-ptp-target-inst-id", "x-ptp-target-component-name")]
    [InlineData("dest-party-id", "service")]
    public async Task PassThrough_TargetAndServiceHeaderSpellings_ReachTheServiceAcrossSites(string partyHeader, string serviceHeader)
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        var reply = await client.UnaryAsync(new EchoRequest { Text = partyHeader }, new Metadata { { partyHeader, TwoSites.PartyB }, { serviceHeader, "echo" } }, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal(partyHeader, reply.Text);
        Assert.Equal("echo-b", reply.ServedBy);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PassThrough_InvalidPartyHeader_IsRejectedNamingTheValue()
    {
        await using var cluster = new TestCluster(output);
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync(new EchoRequest(), new Metadata { { "x-ptp-target-node-id", "../etc" } }, TestCluster.Deadline()).ResponseAsync).DefaultTimeout();

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("\"../etc\" is not a valid party id", ex.Status.Detail, StringComparison.Ordinal);
    }
}
