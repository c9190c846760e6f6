using SiteX.Server.Queues;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>Two sites for queue mode: 9999 and 10000, each routing the other party to the other's gateway.</summary>
internal static class QueueSites
{
    /// <summary>Starts both gateways; with <paramref name="httpHop"/> each reaches the other through the other's HTTP
    /// port (the interconnection protocol), otherwise through its gRPC port.</summary>
    public static async Task<(TestGateway Guest, TestGateway Host)> StartAsync(TestCluster cluster, bool httpHop = false)
    {
        // Each gateway needs the other's port: start B with a placeholder route, then point both at each other.
        var host = await cluster.StartGatewayAsync("host-10000", "10000", RouteJson.Osx("10000"));
        var guest = await cluster.StartGatewayAsync("guest-9999", "9999", RouteJson.Osx("9999", To("10000", host, httpHop)));
        var toGuest = To("9999", guest, httpHop);
        var applied = host.WaitForTableAsync(t => t.TryLookup("9999", "default", null, out var match) && match.Group.Endpoints[0].Display == Display(toGuest));
        host.WriteRouteTable(RouteJson.Osx("10000", toGuest));
        await applied.DefaultTimeout();
        return (guest, host);
    }

    private static Route To(string party, TestGateway gateway, bool httpHop) =>
        httpHop ? Route.HttpGateway(party, gateway.HttpPort) : new Route(party, "default", gateway.GrpcPort);

    private static string Display(Route route) => route.Url ?? $"127.0.0.1:{route.Port}";

    /// <summary>After every session is released and its deliveries recorded, the store drops every file with data and
    /// keeps only a checkpoint record; waits (bounded) until it has.</summary>
    public static Task<long> WaitForStoreToEmptyAsync(TestGateway gateway) =>
        Eventually.ReturnsAsync(() => Task.FromResult(gateway.QueueStoreRecordBytes), bytes => bytes <= 64, $"{gateway.Name} queue store holding only its checkpoint");
}
