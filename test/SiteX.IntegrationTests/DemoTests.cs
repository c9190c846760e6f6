using System.Net;
using System.Net.Sockets;
using SiteX.Cli.Commands;
using Xunit.Abstractions;

namespace SiteX.IntegrationTests;

/// <summary><c>sitex demo</c> as a new user runs it.</summary>
public sealed class DemoTests(ITestOutputHelper output) : ProcessTestBase(output)
{
    [Fact]
    public async Task Demo_FreePorts_ShowsBothRepliesAndExitsZeroOnSigterm()
    {
        // Arrange
        var dataDir = Temp.Combine("demo-data");

        // Act
        var process = StartSitex("demo", ["demo", "--port-a", "0", "--port-b", "0", "--data-dir", dataDir]);
        await process.WaitForOutputAsync(DemoCommand.ReadyLine);
        process.Terminate();
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 0, process.Describe());
        var stdout = process.StandardOutput;
        Assert.Contains("reply \"hello #1 from the SiteX demo\" served_by echo@10000", stdout, StringComparison.Ordinal);
        Assert.Contains("reply \"hello #2 from the SiteX demo\" served_by echo@10000", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("FAILED", stdout, StringComparison.Ordinal);
        Assert.Contains("service_bindings[0] binds sitex.samples.v1.Echo to party 10000 service echo", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dataDir, "site-9999", "route_table.json")), "site 9999's route table file");
        Assert.True(File.Exists(Path.Combine(dataDir, "site-10000", "route_table.json")), "site 10000's route table file");
        Assert.Contains("Stopped.", stdout, StringComparison.Ordinal);
        Assert.Equal("", process.StandardError);
    }

    [Fact]
    public async Task Demo_PortInUse_ExitsOneNamingThePortAndTheOption()
    {
        // Arrange
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // Act
        var process = StartSitex("demo", ["demo", "--port-a", port, "--port-b", "0", "--data-dir", Temp.Combine("demo-data")]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 1, process.Describe());
        Assert.Contains($"port {port} (--port-a, site 9999's gRPC port) is already in use", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("--port-a 0", process.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(DemoCommand.ReadyLine, process.StandardOutput, StringComparison.Ordinal);
    }
}
