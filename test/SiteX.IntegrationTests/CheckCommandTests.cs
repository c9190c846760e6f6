using Xunit.Abstractions;

namespace SiteX.IntegrationTests;

/// <summary><c>sitex check</c> as a real process, checking the route to a running <c>sitex serve</c>.</summary>
public sealed class CheckCommandTests(ITestOutputHelper output) : ProcessTestBase(output)
{
    [Fact]
    public async Task Check_RealProcesses_RouteToARunningGateway_AllStepsPass()
    {
        var table = WriteFile("b.json", RouteTables.Local("10000", "echo", 1));
        var serve = StartSitex("site-10000", ["serve", "--route-table", table, "--grpc-port", "0", "--admin-port", "0", "--http-port", "0", "--bind", "127.0.0.1"]);
        var (grpcPort, _) = SiteXProcess.ParseReadyPorts(await serve.WaitForOutputAsync("SiteX ready"));
        var routes = WriteFile("a.json", RouteTables.ToPeer("9999", "10000", grpcPort));

        var (exit, stdout) = await RunAsync("check", ["check", "10000", "--route-table", routes]);

        Assert.True(exit == 0, stdout);
        Assert.Contains($"✓ TCP: connected to 127.0.0.1:{grpcPort}", stdout, StringComparison.Ordinal);
        Assert.Contains("✓ round trip: invoke /sitex/ping answered \"pong from 10000\"", stdout, StringComparison.Ordinal);
        Assert.Contains("all steps passed", stdout, StringComparison.Ordinal);
    }

    private async Task<(int Exit, string Stdout)> RunAsync(string name, string[] args)
    {
        var process = StartSitex(name, args);
        var exit = await process.WaitForExitAsync();
        Output.WriteLine(process.Describe());
        return (exit, process.StandardOutput);
    }
}
