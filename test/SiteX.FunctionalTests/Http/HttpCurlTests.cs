using System.Diagnostics;
using System.Text.Json;
using SiteX.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Http;

/// <summary><c>curl</c> (a real HTTP/1.1 client outside .NET) drives push, invoke, peek, pop and release on a running gateway
/// through the script <c>Http/chan-curl.sh</c>. CI installs curl when the machine lacks it (<c>.ci/run</c>).</summary>
public sealed class HttpCurlTests(ITestOutputHelper output)
{
    private const string Curl = "/usr/bin/curl";

    [Fact]
    public async Task CurlScript_PushesPeeksPopsAndReleases()
    {
        Assert.True(File.Exists(Curl), $"{Curl} is missing; .ci/run installs it with apt-get");
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("curl-9999", "9999", RouteJson.Osx("9999"));
        var script = Path.Combine(AppContext.BaseDirectory, "Http", "chan-curl.sh");

        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { script, gateway.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "202611281800000000003_curl", "9999" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().DefaultTimeout();
        output.WriteLine(await stdout);
        Assert.True(process.ExitCode == 0, $"chan-curl.sh exited {process.ExitCode}: {await stderr}");

        var lines = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(9, lines.Length);
        var answers = lines[..8].Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.All(answers, a => Assert.Equal("E0000000000", a.GetProperty("code").GetString()));
        Assert.Equal("success", answers[2].GetProperty("message").GetString()); // invoke answers {"code","message"}
        Assert.Equal("hello over http"u8.ToArray(), answers[3].GetProperty("payload").GetBytesFromBase64()); // peek
        Assert.Equal("hello over http"u8.ToArray(), answers[4].GetProperty("payload").GetBytesFromBase64()); // pop, single base64
        Assert.Equal(new byte[] { 0, 1, 255 }, answers[5].GetProperty("payload").GetBytesFromBase64());
        Assert.Equal("third, invoked"u8.ToArray(), answers[6].GetProperty("payload").GetBytesFromBase64());
        Assert.Equal("success", answers[7].GetProperty("message").GetString()); // release answers {"code","message"}
        Assert.Equal("400", lines[8]);
        Assert.Empty(gateway.Queues.Snapshot());

        // Each call is one flow.log line with protocol HTTP and OSX's action names.
        await Eventually.ReturnsAsync(() => SharedFile.ReadAsync(gateway.AccessLogFile),
            log => log.Contains("|HTTP|", StringComparison.Ordinal) && log.Contains("|MSG_DOWNLOAD|", StringComparison.Ordinal) && log.Contains("|CANCEL_TOPIC|", StringComparison.Ordinal),
            "HTTP calls in flow.log");
        cluster.AssertNoUnexpectedErrors();
    }
}
