using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

/// <summary>The star topology of wire-contract section 3: parties reach each other through an exchange.</summary>
public sealed class ExchangeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Exchange_RelaysBetweenTwoParties_CallReachesServiceBehindB()
    {
        await using var cluster = new TestCluster(output);
        var echo = await cluster.StartSampleAsync("echo-b");
        var b = await cluster.StartGatewayAsync("B", TwoSites.PartyB, RouteJson.Osx(TwoSites.PartyB, new Route(TwoSites.PartyB, "echo", echo.Port)));

        // A must know the exchange before the exchange can know A: start A on a placeholder, then point it at E.
        var a = await cluster.StartGatewayAsync("A", TwoSites.PartyA, RouteJson.Osx(TwoSites.PartyA, new Route("default", "default", b.GrpcPort)));
        var e = await cluster.StartGatewayAsync("E", "exchange", RouteJson.Osx("exchange",
            new Route(TwoSites.PartyA, "default", a.GrpcPort),
            new Route(TwoSites.PartyB, "default", b.GrpcPort)));
        var pointedAtExchange = a.WaitForTableAsync(t => TestGateway.RoutedPort(t, TwoSites.PartyB, "echo") == e.GrpcPort);
        a.WriteRouteTable(RouteJson.Osx(TwoSites.PartyA, new Route("default", "default", e.GrpcPort)));
        await pointedAtExchange.DefaultTimeout();

        var reply = await cluster.EchoClient(a).UnaryAsync(new EchoRequest { Text = "via exchange", EchoMetadata = true },
            TestCluster.Target(TwoSites.PartyB, "echo"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal("via exchange", reply.Text);
        Assert.Equal("echo-b", reply.ServedBy);
        // Three gateways passed: A, the exchange and B.
        Assert.Equal("3", reply.Metadata["x-sitex-hops"]);
        Assert.Equal(3, reply.Metadata["x-sitex-via"].Split(',').Length);
        Assert.StartsWith("exchange#", reply.Metadata["x-sitex-via"].Split(',')[1], StringComparison.Ordinal);
        cluster.AssertNoUnexpectedErrors();
    }
}
