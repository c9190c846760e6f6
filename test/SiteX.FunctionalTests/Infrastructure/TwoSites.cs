using SiteX.Samples;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// The standard layout: gateway A (party 9999) routes party 10000 to gateway B; B (party 10000) routes its own
/// service <c>echo</c> to a sample Echo server.
/// </summary>
internal sealed record TwoSites(TestGateway A, TestGateway B, RunningSample Echo)
{
    public const string PartyA = "9999";
    public const string PartyB = "10000";

    public static async Task<TwoSites> StartAsync(TestCluster cluster, params Binding[] bindingsAtA)
    {
        var echo = await cluster.StartSampleAsync("echo-b");
        var b = await cluster.StartGatewayAsync("B", PartyB, RouteJson.Osx(PartyB, new Route(PartyB, "echo", echo.Port)));
        var a = await cluster.StartGatewayAsync("A", PartyA, RouteJson.Osx(PartyA, [new Route(PartyB, "default", b.GrpcPort)], bindingsAtA));
        return new TwoSites(a, b, echo);
    }
}
