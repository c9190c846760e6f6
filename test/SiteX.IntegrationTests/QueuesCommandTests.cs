using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Google.Protobuf;
using SiteX.Cli;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using Xunit.Abstractions;

namespace SiteX.IntegrationTests;

/// <summary><c>sitex queues list</c> and <c>sitex queues release</c> as real processes against a real gateway.</summary>
public sealed class QueuesCommandTests(ITestOutputHelper output) : ProcessTestBase(output)
{
    private const string Party = "10000";
    private const string Session = "job-42_session";
    private const string Topic = "job-42-guest-9999-host-10000-federation";

    [Fact]
    public async Task QueuesList_MessagesPushed_TableNamesSessionTopicAndDepth()
    {
        // Arrange
        var gateway = await StartGatewayWithMessagesAsync(3);

        // Act
        var list = StartSitex("list", ["queues", "list", "--admin", Admin(gateway), "--data-dir", gateway.DataDir]);
        var exitCode = await list.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 0, list.Describe());
        var lines = list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("SESSION", lines[0], StringComparison.Ordinal);
        var row = Assert.Single(lines, l => l.StartsWith(Session, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Topic, row[1]);
        Assert.Equal("3", row[2]); // depth
        Assert.Equal("0", row[4]); // leased
        Assert.Equal("0", row[5]); // waiting pops
        Assert.Matches(@"^\d+(ms|s)$", row[6]); // age of the oldest message
        Assert.Contains("1 session(s), 1 topic(s), 3 message(s) waiting", list.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueuesList_Json_PrintsTheAdminApiJson()
    {
        // Arrange
        var gateway = await StartGatewayWithMessagesAsync(2);

        // Act
        var list = StartSitex("list", ["queues", "list", "--json", "--admin", Admin(gateway), "--data-dir", gateway.DataDir]);
        var exitCode = await list.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 0, list.Describe());
        using var json = JsonDocument.Parse(list.StandardOutput);
        var session = Assert.Single(json.RootElement.GetProperty("sessions").EnumerateArray());
        Assert.Equal(Session, session.GetProperty("session").GetString());
        var topic = Assert.Single(session.GetProperty("topics").EnumerateArray());
        Assert.Equal(Topic, topic.GetProperty("topic").GetString());
        Assert.Equal(2, topic.GetProperty("depth").GetInt32());
        Assert.Equal(2 * 100, topic.GetProperty("bytes").GetInt64());
    }

    [Fact]
    public async Task QueuesRelease_Session_DropsMessagesAndListIsEmptyAfterwards()
    {
        // Arrange
        var gateway = await StartGatewayWithMessagesAsync(4);

        // Act
        var release = StartSitex("release", ["queues", "release", Session, "--topic", Topic, "--admin", Admin(gateway), "--data-dir", gateway.DataDir]);
        var releaseExit = await release.WaitForExitAsync();
        var list = StartSitex("list", ["queues", "list", "--admin", Admin(gateway), "--data-dir", gateway.DataDir]);
        var listExit = await list.WaitForExitAsync();

        // Assert
        Assert.True(releaseExit == 0, release.Describe());
        Assert.Equal($"released topic {Topic} of session {Session}: 4 unconsumed message(s) dropped\n", release.StandardOutput);
        Assert.True(listExit == 0, list.Describe());
        Assert.Equal("no queues: the gateway holds no sessions\n", list.StandardOutput);
        using var queue = new PtpQueueClient(gateway.GrpcPort, Session);
        var pop = await queue.PopAsync(Topic, 100, TimeSpan.FromSeconds(10));
        Assert.Equal(PtpCodes.Timeout, pop.Code);
    }

    [Fact]
    public async Task QueuesRelease_WholeSessionInProcess_PrintsWhatWasReleased()
    {
        // Arrange: the command built in this process, as a caller embedding the CLI would, against the real gateway.
        var gateway = await StartGatewayWithMessagesAsync(1);
        using var stdout = new StringWriter(CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(CultureInfo.InvariantCulture);
        using var handler = new SocketsHttpHandler();

        // Act
        var exitCode = await SiteXCommandLine.InvokeAsync(["queues", "release", Session, "--admin", Admin(gateway), "--data-dir", gateway.DataDir], stdout, stderr, handler);

        // Assert
        Assert.True(exitCode == 0, stderr.ToString());
        Assert.Equal($"released session {Session}: 1 unconsumed message(s) dropped{Environment.NewLine}", stdout.ToString());
    }

    [Theory]
    [InlineData("list")]
    [InlineData("release")]
    public async Task Queues_AdminUnreachable_ExitsOneWithAHint(string verb)
    {
        // Arrange: a port that was free a moment ago, so nothing listens on it.
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var admin = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        string[] args = verb == "list" ? ["queues", "list", "--admin", admin] : ["queues", "release", Session, "--admin", admin];

        // Act
        var process = StartSitex(verb, args);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 1, process.Describe());
        Assert.Contains($"cannot reach the SiteX admin API at {admin}/: ", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("is sitex serve running? --admin sets the address", process.StandardError, StringComparison.Ordinal);
        Assert.Equal("", process.StandardOutput);
    }

    [Fact]
    public async Task QueuesList_NoTokenFound_ExitsOneNamingWhereItLooked()
    {
        // Arrange: a running gateway, and a data directory that holds no admin.token.
        var gateway = await StartGatewayWithMessagesAsync(1);
        var elsewhere = Temp.Combine("elsewhere");
        Directory.CreateDirectory(elsewhere);

        // Act
        var list = StartSitex("list", ["queues", "list", "--admin", Admin(gateway), "--data-dir", elsewhere]);
        var exitCode = await list.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 1, list.Describe());
        Assert.Contains("refused the request (401)", list.StandardError, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(elsewhere, "admin.token"), list.StandardError, StringComparison.Ordinal);
        Assert.Equal("", list.StandardOutput);
    }

    [Fact]
    public async Task QueuesRelease_WrongToken_ExitsOneAndReleasesNothing()
    {
        // Arrange
        var gateway = await StartGatewayWithMessagesAsync(2);

        // Act
        var release = StartSitex("release", ["queues", "release", Session, "--admin", Admin(gateway), "--admin-token", "not-the-gateways-token-at-all"]);
        var exitCode = await release.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 1, release.Describe());
        Assert.Contains("refused the request (401)", release.StandardError, StringComparison.Ordinal);
        Assert.Contains("--admin-token", release.StandardError, StringComparison.Ordinal);
        using var queue = new PtpQueueClient(gateway.GrpcPort, Session);
        var pop = await queue.PopAsync(Topic, 100, TimeSpan.FromSeconds(10));
        Assert.Equal(PtpCodes.Success, pop.Code);
    }

    [Fact]
    public async Task Queues_TokenInEnvironment_ServesGatewayAndCli_AndNoTokenFileIsWritten()
    {
        // Arrange: one variable configures the gateway's token and the CLI's.
        var environment = new Dictionary<string, string> { ["SITEX_ADMIN_TOKEN"] = "an-operator-chosen-token-0123456789" };
        var gateway = await StartGatewayWithMessagesAsync(1, environment);

        // Act
        var list = StartSitex("list", ["queues", "list", "--json", "--admin", Admin(gateway)], environment);
        var exitCode = await list.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 0, list.Describe());
        Assert.Contains(Session, list.StandardOutput, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(gateway.DataDir, "admin.token")));
    }

    [Fact]
    public async Task Queues_AdminNotAUrl_ExitsTwo()
    {
        // Act
        var process = StartSitex("list", ["queues", "list", "--admin", "localhost:9380"]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 2, process.Describe());
        Assert.Contains("--admin \"localhost:9380\" is not an http(s) URL", process.StandardError, StringComparison.Ordinal);
    }

    private async Task<RestartableGateway> StartGatewayWithMessagesAsync(int count, IReadOnlyDictionary<string, string>? environment = null)
    {
        var gateway = new RestartableGateway((name, args) => StartSitex(name, args, environment), Temp.Combine("data"), Party);
        await gateway.StartAsync();
        using var queue = new PtpQueueClient(gateway.GrpcPort, Session);
        for (var i = 0; i < count; i++)
        {
            var push = PtpQueueClient.NewPush(Topic, $"m-{i}", ByteString.CopyFrom(new byte[100]));
            var reply = await queue.PushAsync(Party, push, TimeSpan.FromSeconds(30));
            Assert.Equal(PtpCodes.Success, reply.Code);
        }

        return gateway;
    }

    private static string Admin(RestartableGateway gateway) => $"http://127.0.0.1:{gateway.AdminPort.ToString(CultureInfo.InvariantCulture)}";
}
