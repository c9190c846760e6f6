using System.Net;
using System.Text;
using SiteX.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Http;

/// <summary>
/// Bad requests on the HTTP/1.1 interconnection port: each gets a 4xx JSON error naming the problem, the gateway
/// keeps serving, and a valid push and pop afterwards show nothing was stored twice or lost.
/// </summary>
public sealed class HttpIngressFuzzTests(ITestOutputHelper output)
{
    private const string Session = "202611281800000000002_http_fuzz_0_0";
    private const int BodyLimit = 64 * 1024;

    public static TheoryData<string, string, string, string> BadPushes => new()
    {
        // name, body, expected error, text the message must contain
        { "truncated JSON", "{\"topic\": \"t\", \"payload\": \"AQID\"", "malformed_json", "not valid JSON" },
        { "not JSON", "topic=t&payload=AQID", "malformed_json", "not valid JSON" },
        { "empty body", "", "malformed_json", "empty" },
        { "JSON null", "null", "malformed_json", "JSON object" },
        { "array", "[1,2,3]", "wrong_type", "wrong type" },
        { "bad base64", "{\"topic\": \"t\", \"payload\": \"not base64!!\"}", "bad_base64", "base64" },
        { "url-safe base64", "{\"topic\": \"t\", \"payload\": \"-_-_\"}", "bad_base64", "base64" },
        { "payload is a number", "{\"topic\": \"t\", \"payload\": 12}", "wrong_type", "$.payload" },
        { "topic is an object", "{\"topic\": {}, \"payload\": \"AQID\"}", "wrong_type", "$.topic" },
        { "no payload", "{\"topic\": \"t\"}", "invalid_request", "payload" },
        { "no topic", "{\"payload\": \"AQID\"}", "invalid_request", "topic" },
        { "bad topic name", "{\"topic\": \"a/../b\", \"payload\": \"AQID\"}", "invalid_request", "topic" },
    };

    [Theory]
    [MemberData(nameof(BadPushes))]
    public async Task MalformedPush_Gets400WithJsonError_AndNothingIsStored(string name, string body, string error, string text)
    {
        await using var cluster = new TestCluster(output);
        var gateway = await StartAsync(cluster);
        using var http = new HttpClient();
        var client = new HttpChanClient(http, gateway.HttpPort, Session, "9999");

        var reply = await client.SendRawAsync("push", HttpChanClient.Json(body), withSession: true, ("x-ptp-target-node-id", "9999"));
        Assert.True(reply.Status == HttpStatusCode.BadRequest, $"{name}: {reply.Status} {reply.Raw}");
        Assert.Equal("E0000000400", reply.Code);
        Assert.Equal(error, reply.Error);
        Assert.Contains(text, reply.Message, StringComparison.Ordinal);

        await ChanAssert.StillServesExactlyOnceAsync(gateway, client, message => client.PushAsync("9999", "t", message));
    }

    [Fact]
    public async Task MissingSessionOrTargetHeader_Gets400NamingTheHeader()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await StartAsync(cluster);
        using var http = new HttpClient();
        var client = new HttpChanClient(http, gateway.HttpPort, Session, "9999");
        const string body = "{\"topic\": \"t\", \"payload\": \"AQID\"}";

        var noSession = await client.SendRawAsync("push", HttpChanClient.Json(body), withSession: false, ("x-ptp-target-node-id", "9999"));
        Assert.Equal(HttpStatusCode.BadRequest, noSession.Status);
        Assert.Equal("missing_header", noSession.Error);
        Assert.Contains("x-ptp-session-id", noSession.Message, StringComparison.Ordinal);

        var noTarget = await client.SendRawAsync("push", HttpChanClient.Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, noTarget.Status);
        Assert.Equal("missing_header", noTarget.Error);
        Assert.Contains("x-ptp-target-node-id", noTarget.Message, StringComparison.Ordinal);

        var popNoSession = await client.SendRawAsync("pop", HttpChanClient.Json("{\"topic\": \"t\", \"timeout\": 10}"), withSession: false);
        Assert.Equal(HttpStatusCode.BadRequest, popNoSession.Status);
        Assert.Equal("missing_header", popNoSession.Error);

        var popWrongType = await client.SendRawAsync("pop", HttpChanClient.Json("{\"topic\": \"t\", \"timeout\": \"soon\"}"));
        Assert.Equal(HttpStatusCode.BadRequest, popWrongType.Status);
        Assert.Equal("wrong_type", popWrongType.Error);

        await ChanAssert.StillServesExactlyOnceAsync(gateway, client, message => client.PushAsync("9999", "t", message));
    }

    [Fact]
    public async Task OversizedBody_Gets413WithJsonError_WithOrWithoutContentLength_AndNothingIsStored()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await StartAsync(cluster);
        using var http = new HttpClient();
        var client = new HttpChanClient(http, gateway.HttpPort, Session, "9999");
        var big = $"{{\"topic\": \"t\", \"payload\": \"{Convert.ToBase64String(new byte[BodyLimit])}\"}}";

        var declared = await client.SendRawAsync("push", HttpChanClient.Json(big), withSession: true, ("x-ptp-target-node-id", "9999"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.Status);
        Assert.Equal("E0000000400", declared.Code);
        Assert.Equal("too_large", declared.Error);

        using (var request = new HttpRequestMessage(HttpMethod.Post, client.Url("push")) { Content = new ChunkedContent(Encoding.UTF8.GetBytes(big)) })
        {
            request.Headers.Add("x-ptp-session-id", Session);
            request.Headers.Add("x-ptp-target-node-id", "9999");
            using var response = await http.SendAsync(request);
            var streamed = await HttpChanClient.ReadAsync(response);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.Status);
            Assert.Equal("too_large", streamed.Error);
        }

        await ChanAssert.StillServesExactlyOnceAsync(gateway, client, message => client.PushAsync("9999", "t", message));
    }

    [Fact]
    public async Task UnknownChanPath_Is404_NonPost_Is405_InvokeWithoutHeaders_Is400()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await StartAsync(cluster);
        using var http = new HttpClient();
        var baseUrl = $"http://127.0.0.1:{gateway.HttpPort}";

        using (var response = await http.PostAsync(new Uri($"{baseUrl}/v1/interconn/chan/nope"), HttpChanClient.Json("{}")))
        {
            var reply = await HttpChanClient.ReadAsync(response);
            Assert.Equal(HttpStatusCode.NotFound, reply.Status);
            Assert.Equal("not_found", reply.Error);
        }

        using (var response = await http.PostAsync(new Uri($"{baseUrl}/v1/interconn/chan/invoke"), HttpChanClient.Json("{}")))
        {
            var reply = await HttpChanClient.ReadAsync(response);
            Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
            Assert.Equal("missing_header", reply.Error);
            Assert.Contains("x-ptp-uri", reply.Message, StringComparison.Ordinal);
        }

        using (var response = await http.GetAsync(new Uri($"{baseUrl}/v1/interconn/chan/pop")))
        {
            var reply = await HttpChanClient.ReadAsync(response);
            Assert.Equal(HttpStatusCode.MethodNotAllowed, reply.Status);
            Assert.Equal("method_not_allowed", reply.Error);
            Assert.Equal("POST", string.Join(",", response.Content.Headers.Allow));
        }

        cluster.AssertNoUnexpectedErrors();
    }

    private static Task<TestGateway> StartAsync(TestCluster cluster) =>
        cluster.StartGatewayAsync("fuzz-9999", "9999", RouteJson.Osx("9999"), configure: o => o.MaxLocalMessageBytes = BodyLimit);
}
