using SiteX.Server.Queues;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>Two sites for queue mode: 9999 and 10000, each routing the other party to the other's gateway.</summary>
internal static class QueueSites
{
    public static async Task<(TestGateway Guest, TestGateway Host)> StartAsync(TestCluster cluster)
    {
        // Each gateway needs the other's port: start B with a placeholder route, then point both at each other.
        var host = await cluster.StartGatewayAsync("host-10000", "10000", RouteJson.Osx("10000"));
        var guest = await cluster.StartGatewayAsync("guest-9999", "9999", RouteJson.Osx("9999", new Route("10000", "default", host.GrpcPort)));
        var applied = host.WaitForTableAsync(t => TestGateway.RoutedPort(t, "9999", "default") == guest.GrpcPort);
        host.WriteRouteTable(RouteJson.Osx("10000", new Route("9999", "default", guest.GrpcPort)));
        await applied.DefaultTimeout();
        return (guest, host);
    }

    /// <summary>After every session is released and its deliveries recorded, the store drops every file with data and
    /// keeps only a checkpoint record; waits (bounded) until it has.</summary>
    public static Task<long> WaitForStoreToEmptyAsync(TestGateway gateway) =>
        Eventually.ReturnsAsync(() => Task.FromResult(gateway.QueueStoreRecordBytes), bytes => bytes <= 64, $"{gateway.Name} queue store holding only its checkpoint");
}
