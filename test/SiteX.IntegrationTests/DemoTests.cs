using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using SiteX.Cli.Commands;
using Xunit.Abstractions;

namespace SiteX.IntegrationTests;

/// <summary><c>sitex demo</c> as a new user runs it: two gateways calling each other over mutual TLS.</summary>
public sealed partial class DemoTests(ITestOutputHelper output) : ProcessTestBase(output)
{
    private static readonly string[] s_certificateFiles = ["ca.crt", "ca.key", "9999.crt", "9999.key", "10000.crt", "10000.key"];

    [Fact]
    public async Task Demo_FreePorts_CallsCrossSite10000sTlsPortAsProvenParty9999_AndExitsZeroOnSigterm()
    {
        // Arrange
        var dataDir = Temp.Combine("demo-data");

        // Act
        var process = StartDemo("demo", dataDir);
        await process.WaitForOutputAsync(DemoCommand.ReadyLine);
        process.Terminate();
        var exitCode = await process.WaitForExitAsync();

        // Assert: both calls answered, through site 9999's route to site 10000's TLS gRPC port.
        Assert.True(exitCode == 0, process.Describe());
        var stdout = process.StandardOutput;
        Assert.Contains("reply \"hello #1 from the SiteX demo\" served_by echo@10000", stdout, StringComparison.Ordinal);
        Assert.Contains("reply \"hello #2 from the SiteX demo\" served_by echo@10000", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("FAILED", stdout, StringComparison.Ordinal);
        Assert.Contains("service_bindings[0] binds sitex.samples.v1.Echo to party 10000 service echo", stdout, StringComparison.Ordinal);
        var tlsPortB = TlsPortOfSite10000(stdout);
        Assert.Contains($"route_table.10000.default -> 127.0.0.1:{tlsPortB} (site 10000's TLS gRPC port; mutual TLS with 9999.crt, party 10000 pinned)", stdout, StringComparison.Ordinal);
        var route = RouteToParty10000(Path.Combine(dataDir, "site-9999", "route_table.json"));
        Assert.Equal((tlsPortB, true, "10000"), (route.GetProperty("port").GetInt32(), route.GetProperty("useSSL").GetBoolean(), route.GetProperty("peer_party").GetString()));

        // Assert: site 10000's TLS port proved the caller to be party 9999 by its client certificate, and logged the
        // calls as from 9999 (nothing else names a source: the demo's client sends none).
        var certificate9999 = Path.Combine(dataDir, "tls", "9999.crt");
        Assert.Matches($@"site 10000  TLS gRPC port {tlsPortB}: party 9999 connected from 127\.0\.0\.1:\d+, proven by its client certificate {Regex.Escape(certificate9999)}", stdout);
        var flowLogB = await File.ReadAllLinesAsync(Path.Combine(dataDir, "site-10000", "logs", "flow.log"));
        Assert.Equal(2, flowLogB.Count(l => l.Contains("|FORWARD_LOCAL|/sitex.samples.v1.Echo/Unary|src:9999|des:10000|code:0|", StringComparison.Ordinal)));

        // Assert: a caller without a client certificate was refused by site 10000's TLS port, which said why.
        Assert.Contains($"site 10000  logged: TLS handshake on grpc-tls port {tlsPortB} from 127.0.0.1:", stdout, StringComparison.Ordinal);
        Assert.Contains("refused: no client certificate (Tls:ClientCertificate is Required)", stdout, StringComparison.Ordinal);
        Assert.Contains("refused after ", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("ANSWERED", stdout, StringComparison.Ordinal);

        // Assert: the files, and a clean exit.
        Assert.Contains("Certificates (made now, valid until ", stdout, StringComparison.Ordinal);
        Assert.All(s_certificateFiles, name => Assert.True(File.Exists(Path.Combine(dataDir, "tls", name)), $"tls/{name} in the data dir"));
        Assert.True(File.Exists(Path.Combine(dataDir, "site-9999", "route_table.json")), "site 9999's route table file");
        Assert.True(File.Exists(Path.Combine(dataDir, "site-10000", "route_table.json")), "site 10000's route table file");
        Assert.Contains("Stopped.", stdout, StringComparison.Ordinal);
        Assert.Equal("", process.StandardError);
    }

    [Fact]
    public async Task Demo_SecondRun_ReusesTheCertificatesOfTheFirst()
    {
        // Arrange
        var dataDir = Temp.Combine("demo-data");
        var first = StartDemo("first", dataDir);
        await first.WaitForOutputAsync(DemoCommand.ReadyLine);
        first.Terminate();
        Assert.True(await first.WaitForExitAsync() == 0, first.Describe());
        var written = s_certificateFiles.ToDictionary(name => name, name => File.ReadAllBytes(Path.Combine(dataDir, "tls", name)));

        // Act
        var second = StartDemo("second", dataDir);
        await second.WaitForOutputAsync(DemoCommand.ReadyLine);
        second.Terminate();
        var exitCode = await second.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 0, second.Describe());
        Assert.Contains("Certificates (made now, ", first.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("Certificates (reused from an earlier run, ", second.StandardOutput, StringComparison.Ordinal);
        Assert.All(written, file => Assert.Equal(file.Value, File.ReadAllBytes(Path.Combine(dataDir, "tls", file.Key))));
        Assert.Contains("reply \"hello #1 from the SiteX demo\" served_by echo@10000", second.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"proven by its client certificate {Path.Combine(dataDir, "tls", "9999.crt")}", second.StandardOutput, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--grpc-port-a", "site 9999's gRPC port")]
    [InlineData("--grpc-tls-port-b", "site 10000's TLS gRPC port")]
    public async Task Demo_PortInUse_ExitsOneNamingThePortAndTheOption(string option, string what)
    {
        // Arrange
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        string[] ports = option == "--grpc-port-a" ? [option, port] : ["--grpc-port-a", "0", option, port];

        // Act
        var process = StartSitex("demo", ["demo", .. ports, "--data-dir", Temp.Combine("demo-data")]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 1, process.Describe());
        Assert.Contains($"port {port} ({option}, {what}) is already in use", process.StandardError, StringComparison.Ordinal);
        Assert.Contains($"{option} 0", process.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(DemoCommand.ReadyLine, process.StandardOutput, StringComparison.Ordinal);
    }

    /// <summary>Every port free (site 9999's plain gRPC port defaults to 9370, which other work may hold).</summary>
    private SiteXProcess StartDemo(string name, string dataDir) => StartSitex(name, ["demo", "--grpc-port-a", "0", "--data-dir", dataDir]);

    private static int TlsPortOfSite10000(string stdout)
    {
        var match = Site10000Ports().Match(stdout);
        Assert.True(match.Success, $"The layout does not list site 10000's TLS gRPC port:{Environment.NewLine}{stdout}");
        return int.Parse(match.Groups["tls"].Value, CultureInfo.InvariantCulture);
    }

    private static JsonElement RouteToParty10000(string tablePath)
    {
        using var table = JsonDocument.Parse(File.ReadAllText(tablePath));
        return table.RootElement.GetProperty("route_table").GetProperty("10000").GetProperty("default")[0].Clone();
    }

    [GeneratedRegex(@"site 10000  gRPC 127\.0\.0\.1:\d+ +TLS gRPC 127\.0\.0\.1:(?<tls>\d+) ")]
    private static partial Regex Site10000Ports();
}
