using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Http;

/// <summary>
/// A plain REST service at site B, called by an application at site A through A's HTTP port: A forwards the request
/// to gateway B (over B's gRPC port or B's HTTP port), which forwards it to the service; the answer streams back.
/// </summary>
public sealed class HttpServiceForwardingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Get_WithTargetHeaders_ReachesServiceWithMethodPathQueryAndHeaders_ButNoHopByHopHeaders()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        using var http = HttpSites.Client();
        using var request = sites.Request(HttpMethod.Get, "/api/items/42?color=red&name=a%20b&empty=");
        request.Headers.Add("x-app-header", "kept");
        request.Headers.Add("x-ptp-trace-id", "trace-http-get");
        // Kestrel reduces a Connection header that also says keep-alive, close or upgrade to that one token, so
        // headers named next to those cannot be seen (and pass); this one names only headers.
        request.Headers.TryAddWithoutValidation("Connection", "x-hop-secret, Content-Type, not@token");
        request.Headers.Add("x-hop-secret", "must not cross");
        request.Headers.Add("x-answer-with-hop-header", "x-service-hop");
        request.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
        request.Headers.TryAddWithoutValidation("Proxy-Connection", "keep-alive");
        request.Headers.TryAddWithoutValidation("TE", "trailers");

        using var response = await http.SendAsync(request).DefaultTimeout();
        var echo = await RestJson.ReadEchoAsync(response);

        Assert.Equal("GET", echo.Method);
        Assert.Equal("/base/api/items/42", echo.Path); // the service's URL path, then the request's own path
        Assert.Equal("?color=red&name=a%20b&empty=", echo.Query);
        Assert.Equal("HTTP/1.1", echo.Protocol);
        Assert.Equal(0, echo.BodyBytes);
        Assert.Equal("kept", echo.Headers["x-app-header"]);
        Assert.Equal("trace-http-get", echo.Headers["x-ptp-trace-id"]);
        Assert.Equal(HttpSites.PartyB, echo.Headers["x-ptp-target-node-id"]);
        Assert.Equal($"127.0.0.1:{sites.Web.Port}", echo.Headers["host"]);
        Assert.Equal("2", echo.Headers["x-sitex-hops"]); // gateway A, then gateway B
        Assert.Equal(2, echo.Headers["x-sitex-via"].Split(',').Length);
        foreach (var hopByHop in new[] { "x-hop-secret", "keep-alive", "proxy-connection", "te", "transfer-encoding" })
        {
            Assert.False(echo.Headers.ContainsKey(hopByHop), $"the hop-by-hop header {hopByHop} reached the service: {echo.Headers.GetValueOrDefault(hopByHop)}");
        }

        Assert.DoesNotContain("x-hop-secret", echo.Headers.GetValueOrDefault("connection") ?? "", StringComparison.OrdinalIgnoreCase);
        Assert.Equal("from-the-service", response.Headers.GetValues("x-service-header").Single());
        Assert.False(response.Headers.Contains("x-service-hop"), "a header the service named in Connection reached the caller");
        Assert.False(response.Headers.Contains("x-sitex-error"));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PostPutDelete_WithBodies_ArriveWithTheirMethodAndBytes()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        using var http = HttpSites.Client();

        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch })
        {
            var text = $"{{\"method\": \"{method}\", \"note\": \"ünïcode ✓\"}}";
            using var request = sites.Request(method, $"/api/things?verb={method}");
            request.Content = new StringContent(text, Encoding.UTF8, "application/json");

            using var response = await http.SendAsync(request).DefaultTimeout();
            var echo = await RestJson.ReadEchoAsync(response);

            Assert.Equal(method.Method, echo.Method);
            Assert.Equal("/base/api/things", echo.Path);
            Assert.Equal($"?verb={method}", echo.Query);
            Assert.Equal(text, echo.BodyText);
            Assert.Equal(Encoding.UTF8.GetByteCount(text), echo.BodyBytes);
            Assert.Equal(echo.BodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), echo.Headers["content-length"]);
            Assert.Equal("application/json; charset=utf-8", echo.Headers["content-type"]);
        }

        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Post_EmptyBody_1MiBBody_AndChunkedBodyWithoutLength_ArriveByteExact()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        using var http = HttpSites.Client();

        // 0 bytes, declared.
        using (var request = sites.Request(HttpMethod.Post, "/api/empty"))
        {
            request.Content = new ByteArrayContent([]);
            using var response = await http.SendAsync(request).DefaultTimeout();
            var echo = await RestJson.ReadEchoAsync(response);
            Assert.Equal(0, echo.BodyBytes);
            Assert.Equal("", echo.BodyText);
            Assert.Equal("0", echo.Headers.GetValueOrDefault("content-length", "0"));
            Assert.False(echo.Headers.ContainsKey("transfer-encoding"));
        }

        // 1 MiB with a Content-Length.
        using (var request = sites.Request(HttpMethod.Post, "/api/upload"))
        {
            var content = new BulkContent(1024 * 1024, declareLength: true);
            request.Content = content;
            using var response = await http.SendAsync(request).DefaultTimeout();
            var echo = await RestJson.ReadEchoAsync(response);
            Assert.Equal(1024 * 1024, echo.BodyBytes);
            Assert.Equal(content.Sha256, echo.BodySha256);
            Assert.Equal("1048576", echo.Headers["content-length"]);
        }

        // 3 MiB + 7 bytes, chunked: no Content-Length anywhere on the way.
        using (var request = sites.Request(HttpMethod.Put, "/api/upload"))
        {
            var content = new BulkContent(3 * 1024 * 1024 + 7, declareLength: false);
            request.Content = content;
            using var response = await http.SendAsync(request).DefaultTimeout();
            var echo = await RestJson.ReadEchoAsync(response);
            Assert.Equal(3 * 1024 * 1024 + 7, echo.BodyBytes);
            Assert.Equal(content.Sha256, echo.BodySha256);
            Assert.False(echo.Headers.ContainsKey("content-length"));
            Assert.Equal("chunked", echo.Headers["transfer-encoding"]);
        }

        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Download_ChunkedAndWithContentLength_StreamBackByteExact()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        using var http = HttpSites.Client();
        const long size = 5 * 1024 * 1024 + 3;

        foreach (var chunked in new[] { true, false })
        {
            using var request = sites.Request(HttpMethod.Get, $"/files/download?bytes={size}&chunked={(chunked ? "true" : "false")}");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
            if (chunked)
            {
                Assert.True(response.Headers.TransferEncodingChunked, "a chunked answer of the service reaches the caller chunked");
                Assert.Null(response.Content.Headers.ContentLength);
            }
            else
            {
                Assert.Equal(size, response.Content.Headers.ContentLength);
            }

            await using var body = await response.Content.ReadAsStreamAsync().DefaultTimeout();
            Assert.Equal(size, await BulkData.VerifyAsync(body, CancellationToken.None).DefaultTimeout());
        }

        cluster.AssertNoUnexpectedErrors();
    }

    [Theory]
    [InlineData(404)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task ErrorStatusOfTheService_PassesThroughVerbatim(int status)
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        using var http = HttpSites.Client();
        using var request = sites.Request(HttpMethod.Get, $"/api/status/{status}");

        using var response = await http.SendAsync(request).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync().DefaultTimeout();

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(RestService.StatusBody(status, $"{HttpSites.BasePath}/api/status/{status}"), body);
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("from-the-service", response.Headers.GetValues("x-service-header").Single());
        Assert.False(response.Headers.Contains("x-sitex-error"), "the service's own status is not a gateway error");
        if (status == 503)
        {
            Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
        }

        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PathPrefixBinding_RequestWithoutHeaders_ReachesServiceWithTargetHeadersAdded()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        using var http = HttpSites.Client();

        using var getResponse = await http.GetAsync(sites.AtA($"{HttpSites.BoundPrefix}items?page=2")).DefaultTimeout();
        var get = await RestJson.ReadEchoAsync(getResponse);
        using var postResponse = await http.PostAsync(sites.AtA($"{HttpSites.BoundPrefix}items"), new StringContent("bound body")).DefaultTimeout();
        var post = await RestJson.ReadEchoAsync(postResponse);

        Assert.Equal("/base/rest/items", get.Path);
        Assert.Equal("?page=2", get.Query);
        Assert.Equal(HttpSites.PartyB, get.Headers["x-ptp-target-node-id"]); // added by A, so that B routes it
        Assert.Equal(HttpSites.Service, get.Headers["x-ptp-target-component-name"]);
        Assert.Equal("POST", post.Method);
        Assert.Equal("bound body", post.BodyText);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task NoTargetHeaderAndNoBinding_GetsJson400NamingTheHeaders()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        using var http = HttpSites.Client();

        using var response = await http.GetAsync(sites.AtA("/not/bound?x=1")).DefaultTimeout();
        var error = await ReadErrorAsync(response);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("missing_target", error.Error);
        Assert.Equal("E0000000400", error.Code);
        Assert.Contains("x-ptp-target-node-id", error.Message, StringComparison.Ordinal);
        Assert.Contains("x-ptp-target-component-name", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, sites.Web.Requests);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task UnknownParty_GetsJsonNoRoute_WithTheNoRouteStatus()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        using var http = HttpSites.Client();
        using var request = sites.Request(HttpMethod.Get, "/api/items", party: "77777");

        using var response = await http.SendAsync(request).DefaultTimeout();
        var error = await ReadErrorAsync(response);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("no_route", error.Error);
        Assert.Equal("130", error.Code);
        Assert.Contains("77777", error.Message, StringComparison.Ordinal);
        Assert.Equal("no_route", response.Headers.GetValues("x-sitex-error").Single());
        Leaks.AssertNone(error.Message, sites.B.GrpcPort, sites.B.HttpPort, sites.Web.Port);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task ServiceDown_GetsJsonNextHopUnreachable_NamingNoAddress()
    {
        await using var cluster = new TestCluster(output);
        var closedPort = ClosedPort();
        var sites = await HttpSites.StartAsync(cluster, webUrl: $"http://127.0.0.1:{closedPort}/base");
        using var http = HttpSites.Client();
        using var request = sites.Request(HttpMethod.Post, "/api/items");
        request.Content = new StringContent("nobody reads this");

        using var response = await http.SendAsync(request).DefaultTimeout();
        var error = await ReadErrorAsync(response);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("next_hop_unreachable", error.Error);
        Assert.Equal("E0000000607", error.Code);
        Assert.Contains("service web of party 10000 is unreachable", error.Message, StringComparison.Ordinal);
        Leaks.AssertNone(error.Message, closedPort, sites.B.GrpcPort, sites.B.HttpPort);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task IdleService_GetsJson504AfterTheIdleTimeout()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster, configureB: o => o.IdleTimeout = TimeSpan.FromSeconds(1));
        using var http = HttpSites.Client();
        using var request = sites.Request(HttpMethod.Get, "/api/stall");

        using var response = await http.SendAsync(request).DefaultTimeout();
        var error = await ReadErrorAsync(response);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("next_hop_timeout", error.Error);
        Assert.Contains("idle", error.Message, StringComparison.Ordinal);
        Leaks.AssertNone(error.Message, sites.Web.Port);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task RouteBackToItsOwnHttpPort_IsJson508RoutingLoop()
    {
        await using var cluster = new TestCluster(output);
        var a = await cluster.StartGatewayAsync("A", HttpSites.PartyA, RouteJson.Osx(HttpSites.PartyA));
        var url = $"http://127.0.0.1:{a.HttpPort}/v1/interconn/chan/invoke";
        var applied = a.WaitForTableAsync(t => t.TryLookup(HttpSites.PartyB, "default", null, out var m) && m.Group.Endpoints[0].Config.Url == url);
        a.WriteRouteTable(RouteJson.Osx(HttpSites.PartyA, [], [new HttpRoute(HttpSites.PartyB, "default", url)], []));
        await applied.DefaultTimeout();
        using var http = HttpSites.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{a.HttpPort}/api/loop");
        request.Headers.Add("x-ptp-target-node-id", HttpSites.PartyB);

        using var response = await http.SendAsync(request).DefaultTimeout();
        var error = await ReadErrorAsync(response);

        Assert.Equal((HttpStatusCode)508, response.StatusCode);
        Assert.Equal("routing_loop", error.Error);
        Assert.Contains("came back to this gateway", error.Message, StringComparison.Ordinal);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PeerHttpPortRoute_CarriesEveryMethod_OverOneKeptAliveConnectionEachHop()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster, PeerPort.Http);
        using var http = HttpSites.Client();

        for (var i = 0; i < 20; i++)
        {
            var method = (i % 4) switch { 0 => HttpMethod.Get, 1 => HttpMethod.Post, 2 => HttpMethod.Put, _ => HttpMethod.Delete };
            using var request = sites.Request(method, $"/api/seq/{i}?i={i}");
            if (method != HttpMethod.Get)
            {
                request.Content = new StringContent($"body {i}");
            }

            using var response = await http.SendAsync(request).DefaultTimeout();
            var echo = await RestJson.ReadEchoAsync(response);
            Assert.Equal(method.Method, echo.Method);
            Assert.Equal($"/base/api/seq/{i}", echo.Path);
            Assert.Equal($"?i={i}", echo.Query);
            Assert.Equal(method == HttpMethod.Get ? "" : $"body {i}", echo.BodyText);
        }

        // A crossed to B's HTTP port, not its gRPC port; each hop kept one HTTP/1.1 connection alive for all 20.
        Assert.Equal(1, await ConnectionsAcceptedAsync(sites.B, "http"));
        Assert.Equal(0, await ConnectionsAcceptedAsync(sites.B, "grpc"));
        Assert.Single(sites.Web.Connections);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PeerGrpcPortRoute_CarriesPlainHttpOverH2c()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster, PeerPort.Grpc);
        using var http = HttpSites.Client();

        for (var i = 0; i < 10; i++)
        {
            using var request = sites.Request(i % 2 == 0 ? HttpMethod.Get : HttpMethod.Post, $"/api/h2c/{i}");
            if (i % 2 == 1)
            {
                request.Content = new BulkContent(64 * 1024 + i, declareLength: i % 4 == 1);
            }

            using var response = await http.SendAsync(request).DefaultTimeout();
            var echo = await RestJson.ReadEchoAsync(response);
            Assert.Equal($"/base/api/h2c/{i}", echo.Path);
            Assert.Equal(i % 2 == 0 ? 0 : 64 * 1024 + i, echo.BodyBytes);
        }

        // One multiplexed HTTP/2 connection from A to B's gRPC port; B's HTTP port saw nothing.
        Assert.Equal(1, await ConnectionsAcceptedAsync(sites.B, "grpc"));
        Assert.Equal(0, await ConnectionsAcceptedAsync(sites.B, "http"));
        Assert.Single(sites.Web.Connections);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task GrpcCall_RoutedToAnHttpServiceUrl_IsRefusedAsUnimplemented()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync(new EchoRequest { Text = "grpc to rest" }, TestCluster.Target(HttpSites.PartyB, HttpSites.Service), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Equal("unsupported", ex.Trailers.GetValue("x-sitex-error"));
        Assert.Contains("HTTP endpoint", ex.Status.Detail, StringComparison.Ordinal);
        Leaks.AssertNone(ex.Status.Detail, sites.Web.Port);
        Assert.Equal(0, sites.Web.Requests);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Curl_ChunkedUploadWithExpectContinue_ThenDownloadOnTheSameConnection()
    {
        const string curl = "/usr/bin/curl";
        Assert.True(File.Exists(curl), $"{curl} is missing; .ci/run installs it with apt-get");
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        const long uploadSize = 3 * 1024 * 1024 + 11;
        const long downloadSize = 2 * 1024 * 1024 + 5;
        var uploadFile = cluster.Temp.Combine("upload.bin");
        await using (var file = File.Create(uploadFile))
        {
            await BulkData.WriteAsync(file, uploadSize, hash: null, CancellationToken.None).DefaultTimeout();
        }

        // One curl run, two requests: a chunked PUT from a file (curl asks "Expect: 100-continue" first and waits for
        // the 100, which comes once the service reads the body: Expect is end to end), then a GET whose answer comes
        // back chunked; curl reports how many new connections the second one needed.
        var start = new System.Diagnostics.ProcessStartInfo(curl) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] target = ["-H", $"x-ptp-target-node-id: {HttpSites.PartyB}", "-H", $"x-ptp-target-component-name: {HttpSites.Service}"];
        foreach (var argument in (string[])[
            "-sS", "--fail-with-body", .. target, "-H", "Transfer-Encoding: chunked", "-T", uploadFile, sites.AtA("/api/curl-upload").ToString(),
            "-o", cluster.Temp.Combine("upload.json"),
            "--next", "-sS", "--fail-with-body", .. target, sites.AtA($"/files/download?bytes={downloadSize}&chunked=true").ToString(),
            "-o", cluster.Temp.Combine("download.bin"), "-w", "%{http_code} %{num_connects}"])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().DefaultTimeout();
        Assert.True(process.ExitCode == 0, $"curl exited {process.ExitCode}: {await stderr}");

        var echo = JsonSerializer.Deserialize<RestEcho>(await File.ReadAllTextAsync(cluster.Temp.Combine("upload.json")), RestJson.Options)!;
        Assert.Equal("PUT", echo.Method);
        Assert.Equal(uploadSize, echo.BodyBytes);
        Assert.Equal(BulkData.Sha256(uploadSize), echo.BodySha256);
        Assert.Equal("chunked", echo.Headers["transfer-encoding"]);
        await using (var download = File.OpenRead(cluster.Temp.Combine("download.bin")))
        {
            Assert.Equal(downloadSize, await BulkData.VerifyAsync(download, CancellationToken.None).DefaultTimeout());
        }

        Assert.Equal("200 0", await stdout); // the GET reused the PUT's connection to gateway A
        cluster.AssertNoUnexpectedErrors();
    }

    private sealed record JsonErrorBody(string Code, string Error, string Message);

    private static async Task<JsonErrorBody> ReadErrorAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync().DefaultTimeout();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonSerializer.Deserialize<JsonErrorBody>(body, RestJson.Options);
        Assert.True(error is { Code: not null, Error: not null, Message: not null }, $"not a SiteX JSON error: {body}");
        Assert.Equal(error.Error, response.Headers.GetValues("x-sitex-error").Single());
        return error;
    }

    /// <summary>Connections a gateway's listener accepted so far, from its Prometheus metrics.</summary>
    private static async Task<int> ConnectionsAcceptedAsync(TestGateway gateway, string listener)
    {
        using var http = HttpSites.Client();
        var metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{gateway.AdminPort}/metrics")).DefaultTimeout();
        var line = metrics.Split('\n').SingleOrDefault(l => l.StartsWith("sitex_connections_total{", StringComparison.Ordinal) && l.Contains($"sitex_listener=\"{listener}\"", StringComparison.Ordinal));
        return line is null ? 0 : int.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A loopback port with nothing listening on it (just released by the OS).</summary>
    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
