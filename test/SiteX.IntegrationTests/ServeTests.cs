using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using SiteX.Protocol;
using SiteX.Samples;
using SiteX.Samples.V1;
using SiteX.Tests.Common;
using Xunit.Abstractions;

namespace SiteX.IntegrationTests;

/// <summary><c>sitex serve</c> as a real process: forwarding through two processes, SIGTERM, bad input.</summary>
public sealed class ServeTests(ITestOutputHelper output) : ProcessTestBase(output)
{
    private static readonly string[] s_loopbackFreePorts = ["--grpc-port", "0", "--admin-port", "0", "--http-port", "0", "--bind", "127.0.0.1"];

    [Fact]
    public async Task Serve_TwoSitesAndSample_CallReachesSampleThroughBothProcesses()
    {
        // Arrange: sample <- site 10000 <- site 9999.
        await using var sample = await SampleHost.StartAsync("echo@10000");
        var siteB = await StartSiteAsync("site-10000", RouteTables.Local("10000", "echo", sample.Port));
        var siteA = await StartSiteAsync("site-9999", RouteTables.ToPeer("9999", "10000", siteB.GrpcPort));
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{siteA.GrpcPort}");
        var client = new Echo.EchoClient(channel);

        // Act
        var reply = await client.UnaryAsync(
            new EchoRequest { Text = "across two processes", EchoMetadata = true },
            Targeting("10000", "echo"),
            DateTime.UtcNow.AddSeconds(30));

        // Assert
        Assert.Equal("across two processes", reply.Text);
        Assert.Equal("echo@10000", reply.ServedBy);
        Assert.Equal("2", reply.Metadata[SiteXHeaders.Hops]);
        var via = reply.Metadata[SiteXHeaders.Via].Split(',');
        Assert.Collection(via, a => Assert.StartsWith("9999#", a, StringComparison.Ordinal), b => Assert.StartsWith("10000#", b, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(1500)]
    [InlineData(3500)] // longer than System.CommandLine's default 2 s grace for SIGTERM, which would end the process early
    public async Task Serve_SigtermDuringSlowCall_CallCompletesAndExitCodeIsZero(int delayMs)
    {
        // Arrange
        await using var sample = await SampleHost.StartAsync("echo@10000");
        var site = await StartSiteAsync("site-10000", RouteTables.Local("10000", "echo", sample.Port));
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{site.GrpcPort}");
        var client = new Echo.EchoClient(channel);
        var call = client.UnaryAsync(new EchoRequest { Text = "slow", DelayMs = delayMs }, Targeting("10000", "echo"), DateTime.UtcNow.AddSeconds(60));
        await WaitUntilAsync(() => sample.Observer.CallsStarted == 1, "the slow call to reach the sample");

        // Act
        site.Process.Terminate();
        var reply = await call.ResponseAsync.DefaultTimeout();
        var exitCode = await site.Process.WaitForExitAsync();

        // Assert
        Assert.Equal("slow", reply.Text);
        Assert.True(exitCode == 0, $"exit code {exitCode}{Environment.NewLine}{site.Process.Describe()}");
    }

    [Fact]
    public async Task Serve_BrokenRouteTable_ExitsOneAndNamesTheFieldPath()
    {
        // Arrange
        var table = WriteFile("bad.json", """
            {
              "self_party": ["9999"],
              "route_table": { "10000": { "default": [{ "ip": "10.0.0.2", "port": 70000 }] } }
            }
            """);

        // Act
        var process = StartSitex("serve", ["serve", "--route-table", table, .. s_loopbackFreePorts]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 1, process.Describe());
        Assert.Contains("route_table.10000.default[0].port", process.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("SiteX ready", process.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ConfigFileWithUnknownKey_ExitsTwoAndNamesTheKey()
    {
        // Arrange
        var config = WriteFile("cfg.json", """{ "grpcPort": 0, "adminProt": 0 }""");

        // Act
        var process = StartSitex("serve", ["serve", "--config", config, .. s_loopbackFreePorts]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 2, process.Describe());
        Assert.Contains("\"adminProt\" is not a SiteX setting", process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_GrpcPortFromEnvironment_IsHonoured()
    {
        // Arrange: only the environment says port 0; the default would be 9370.
        var environment = new Dictionary<string, string> { ["SITEX_GRPCPORT"] = "0" };

        // Act
        var process = StartSitex("serve", ["serve", "--admin-port", "0", "--http-port", "0", "--bind", "127.0.0.1"], environment);
        var ready = await process.WaitForOutputAsync("SiteX ready");

        // Assert
        var (grpcPort, _) = SiteXProcess.ParseReadyPorts(ready);
        Assert.NotEqual(9370, grpcPort);
        Assert.InRange(grpcPort, 1, 65535);
    }

    [Fact]
    public async Task Serve_ForwardingEngineFromEnvironment_ForwardsTheCallOverYarp()
    {
        // Arrange: sample <- site 10000 <- site 9999, which forwards with YARP instead of the default HTTP/2 relay.
        await using var sample = await SampleHost.StartAsync("echo@10000");
        var siteB = await StartSiteAsync("site-10000", RouteTables.Local("10000", "echo", sample.Port));
        var siteA = await StartSiteAsync("site-9999", RouteTables.ToPeer("9999", "10000", siteB.GrpcPort),
            new Dictionary<string, string> { ["SITEX_FORWARDINGENGINE"] = "Yarp" });
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{siteA.GrpcPort}");

        // Act
        var reply = await new Echo.EchoClient(channel).UnaryAsync(new EchoRequest { Text = "relayed", EchoMetadata = true }, Targeting("10000", "echo"), DateTime.UtcNow.AddSeconds(30));
        var bogus = StartSitex("bogus", ["serve", .. s_loopbackFreePorts], new Dictionary<string, string> { ["SITEX_FORWARDINGENGINE"] = "Bogus" });
        var exitCode = await bogus.WaitForExitAsync();

        // Assert: the call went through; a value that is not an engine is refused, so the variable is bound.
        Assert.Equal("relayed", reply.Text);
        Assert.Equal("2", reply.Metadata[SiteXHeaders.Hops]);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("ForwardingEngine", bogus.StandardError + bogus.StandardOutput, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Serve_HttpPort_EndsTheReadyLine_AndServesTheInterconnectionEndpoints()
    {
        // Act
        var process = StartSitex("serve", ["serve", .. s_loopbackFreePorts]);
        var ready = await process.WaitForOutputAsync("SiteX ready");

        // Assert: the existing fields keep their place; the HTTP port is appended at the end.
        SiteXProcess.ParseReadyPorts(ready);
        var match = System.Text.RegularExpressions.Regex.Match(ready, @", HTTP on 127\.0\.0\.1:(?<port>\d+)$");
        Assert.True(match.Success, ready);
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://127.0.0.1:{match.Groups["port"].Value}/v1/interconn/chan/peek"))
        {
            Content = new StringContent("{\"topic\": \"t\"}", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-ptp-session-id", "s1");
        using var response = await http.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"code\":\"E0000000000\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_DataDirIsAFile_ExitsOneNamingTheDataDirNotThePorts()
    {
        // Arrange
        var notADirectory = WriteFile("data", "a file where the data directory should be");

        // Act
        var process = StartSitex("serve", ["serve", "--data-dir", notADirectory, .. s_loopbackFreePorts]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 1, process.Describe());
        Assert.Contains("check --data-dir", process.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("--grpc-port", process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_GrpcPortInUse_ExitsOneNamingThePortOptions()
    {
        // Arrange
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // Act
        var process = StartSitex("serve", ["serve", "--grpc-port", port, "--admin-port", "0", "--http-port", "0", "--bind", "127.0.0.1"]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 1, process.Describe());
        Assert.Contains("already in use", process.StandardError, StringComparison.Ordinal);
        Assert.Contains($"(gRPC port {port}, admin port 0, HTTP port 0; choose others with --grpc-port/--admin-port/--http-port", process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_QuietAfterABurstOfLargePushes_GivesMemoryBackWithACollection()
    {
        // Arrange: a site that checks every 200 ms whether it went quiet after its memory grew.
        var site = await StartSiteAsync("site-9999", RouteTables.Local("9999", "echo", 9), new() { ["SITEX_IDLEMEMORYTRIMINTERVAL"] = "00:00:00.200" });
        using var queue = new PtpQueueClient(site.GrpcPort, "s-trim");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var payload = ByteString.CopyFrom(new byte[16 * 1024 * 1024]);

        // Act: a burst of four 16 MiB pushes for the site's own party, then nothing.
        for (var i = 0; i < 4; i++)
        {
            var pushed = await queue.PushAsync("9999", PtpQueueClient.NewPush("t", $"m-{i}", payload), TimeSpan.FromSeconds(60));
            Assert.Equal(PtpCodes.Success, pushed.Code);
        }

        // Assert: the collection shows on /metrics.
        var deadline = DateTime.UtcNow + TaskTimeoutExtensions.DefaultTimeoutTimeSpan;
        while (true)
        {
            var metrics = await http.GetStringAsync($"http://127.0.0.1:{site.AdminPort}/metrics");
            var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("sitex_memory_idle_collections_total", StringComparison.Ordinal));
            if (line is not null && double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture) >= 1)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no idle collection within {TaskTimeoutExtensions.DefaultTimeoutTimeSpan}; metrics line: {line ?? "(none)"}");
            await Task.Delay(100);
        }
    }

    [Theory]
    [InlineData("SiteX")]
    [InlineData("Kestrel")]
    public async Task Serve_WithItsOwnHttp2Server_RunsSocketCompletionsOnASocketThreadPerCore_AndForwards(string engine)
    {
        // Arrange
        await using var sample = await SampleHost.StartAsync("echo@10000");
        var site = await StartSiteAsync("site-10000", RouteTables.Local("10000", "echo", sample.Port), new() { ["SITEX_HTTP2SERVER"] = engine });
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{site.GrpcPort}");
        var client = new Echo.EchoClient(channel);
        var payload = ByteString.CopyFrom(new byte[256 * 1024]);

        // Act
        var reply = await client.UnaryAsync(new EchoRequest { Text = "inline", Payload = payload }, Targeting("10000", "echo"), DateTime.UtcNow.AddSeconds(30));
        var socketThreads = Directory.GetDirectories($"/proc/{site.Process.Id}/task")
            .Count(task => File.ReadAllText(Path.Combine(task, "comm")).Trim() == ".NET Sockets");

        // Assert: the runtime took DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 (one socket thread per core) only for
        // SiteX's own server, and forwarding works either way.
        Assert.Equal("inline", reply.Text);
        Assert.Equal(payload, reply.Payload);
        if (engine == "SiteX")
        {
            Assert.Equal(Environment.ProcessorCount, socketThreads);
        }
        else
        {
            Assert.InRange(socketThreads, 1, Math.Max(1, Environment.ProcessorCount - 1));
        }
    }

    private async Task<RunningSite> StartSiteAsync(string name, string routeTable, Dictionary<string, string>? environment = null)
    {
        var table = WriteFile(name + ".json", routeTable);
        var process = environment is null
            ? StartSitex(name, ["serve", "--route-table", table, .. s_loopbackFreePorts])
            : StartSitex(name, ["serve", "--route-table", table, .. s_loopbackFreePorts], environment);
        var ready = await process.WaitForOutputAsync("SiteX ready");
        var (grpcPort, adminPort) = SiteXProcess.ParseReadyPorts(ready);
        return new RunningSite(process, grpcPort, adminPort);
    }

    private static Metadata Targeting(string party, string service) => new()
    {
        { PtpHeaders.TargetNodeId, party },
        { PtpHeaders.TargetComponentName, service },
    };

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TaskTimeoutExtensions.DefaultTimeoutTimeSpan;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(20);
        }
    }

    private sealed record RunningSite(SiteXProcess Process, int GrpcPort, int AdminPort);
}
