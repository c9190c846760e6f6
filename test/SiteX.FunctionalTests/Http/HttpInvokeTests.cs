using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol.Eggroll.Proxy;
using Task = System.Threading.Tasks.Task;
using SiteX.Protocol.Ptp;
using Xunit.Abstractions;
using PacketMetadata = SiteX.Protocol.Eggroll.Proxy.Metadata;

namespace SiteX.FunctionalTests.Http;

/// <summary>
/// <c>POST /v1/interconn/chan/invoke</c> addressed to the gateway's own party: a queue push in either encoding OSX
/// uses (JSON ProduceRequest over HTTP, serialized PushInbound over gRPC) is stored; a unary Packet reaches the local
/// service of its role and its reply comes back as the payload; anything else gets a clear refusal.
/// </summary>
public sealed class HttpInvokeTests(ITestOutputHelper output)
{
    private const string Session = "202611281900000000001_invoke_0_0";
    private const string PushUri = "/org.ppc.ptp.PrivateTransferTransport/push";
    private const string UnaryUri = "/org.fedai.osx.proxy/unary";
    private const int BodyLimit = 256 * 1024;

    [Theory]
    [InlineData("json", PushUri)]
    [InlineData("json", "/v1/interconn/chan/push")]
    [InlineData("protobuf", "grpcs://fedai.org/org.ppc.ptp.PrivateTransferTransport/push")]
    public async Task InvokedPush_ForSelf_IsStored_AndPopsByteExact(string encoding, string uri)
    {
        await using var cluster = new TestCluster(output);
        var gateway = await StartAsync(cluster);
        using var http = new HttpClient();
        var client = new HttpChanClient(http, gateway.HttpPort, Session, "10000");
        var messages = new[] { Array.Empty<byte>(), Payloads.Make(1, 100), Payloads.Make(2, 100_000) };

        foreach (var message in messages)
        {
            var payload = encoding == "json" ? ProduceRequest("t", message) : new PushInbound { Topic = "t", Payload = ByteString.CopyFrom(message) }.ToByteArray();
            var reply = await client.InvokeAsync("9999", uri, payload);
            Assert.True(reply.Status == HttpStatusCode.OK && reply.Code == "E0000000000", reply.Raw);
            Assert.Contains("\"message\"", reply.Raw, StringComparison.Ordinal);
            Assert.Null(reply.Payload);
        }

        foreach (var message in messages)
        {
            var popped = await client.PopAsync("t", 5_000);
            Assert.Equal("E0000000000", popped.Code);
            Assert.Equal(message, popped.Payload);
        }

        Assert.Equal("E0000000601", (await client.PopAsync("t", 50)).Code);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task InvokedUnaryPacket_ForSelf_ReachesTheRolesService_AndItsReplyIsThePayload()
    {
        await using var cluster = new TestCluster(output);
        var fateflow = await cluster.StartFakeFateAsync("fateflow");
        var gateway = await cluster.StartGatewayAsync("site-9999", "9999", RouteJson.Osx("9999", new Route("9999", "fateflow", fateflow.Port)),
            configure: o => o.MaxLocalMessageBytes = 4 * 1024 * 1024);
        using var http = new HttpClient();
        var client = new HttpChanClient(http, gateway.HttpPort, Session, "10000");
        var packet = new Packet
        {
            Header = new PacketMetadata
            {
                Src = new Topic { PartyId = "10000", Role = "fateflow", Name = "job-1" },
                Dst = new Topic { PartyId = "9999", Role = "fateflow", Name = "job-1" },
                Command = new Command { Name = "/v2/partner/job/create" },
            },
            Body = new Data { Key = "k", Value = ByteString.CopyFrom(Payloads.Make(7, 1024 * 1024)) },
        };

        var reply = await client.InvokeAsync("9999", UnaryUri, packet.ToByteArray());

        Assert.True(reply.Status == HttpStatusCode.OK && reply.Code == "E0000000000", reply.Raw.Length > 300 ? reply.Raw[..300] : reply.Raw);
        var answer = Packet.Parser.ParseFrom(reply.Payload);
        Assert.Equal(packet.Header.Src, answer.Header.Dst);
        Assert.Equal(packet.Header.Dst, answer.Header.Src);
        Assert.Equal(packet.Body, answer.Body);
        Assert.Equal(1, fateflow.Service.UnaryCalls);
        cluster.AssertNoUnexpectedErrors();
    }

    public static TheoryData<string, string, (string Name, string Value)[], HttpStatusCode, string, string> BadInvokes => new()
    {
        // name, body, headers, status, expected error (or PTP code for HTTP 200), text the message must contain
        { "truncated JSON", "{\"payload\": \"AQID\"", [("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "9999")], HttpStatusCode.BadRequest, "malformed_json", "not valid JSON" },
        { "empty body", "", [("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "9999")], HttpStatusCode.BadRequest, "malformed_json", "empty" },
        { "bad base64", "{\"payload\": \"%%%\"}", [("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "9999")], HttpStatusCode.BadRequest, "bad_base64", "base64" },
        { "payload is a number", "{\"payload\": 5}", [("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "9999")], HttpStatusCode.BadRequest, "wrong_type", "$.payload" },
        { "no payload", "{}", [("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "9999")], HttpStatusCode.BadRequest, "invalid_request", "payload" },
        { "no uri", "{\"payload\": \"AQID\"}", [("x-ptp-target-node-id", "9999")], HttpStatusCode.BadRequest, "missing_header", "x-ptp-uri" },
        { "no target", "{\"payload\": \"AQID\"}", [("x-ptp-uri", PushUri)], HttpStatusCode.BadRequest, "missing_header", "x-ptp-target-node-id" },
        { "hostile target", "{\"payload\": \"AQID\"}", [("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "../../etc")], HttpStatusCode.BadRequest, "invalid_request", "not a valid party id" },
        { "push payload is neither encoding", "{\"payload\": \"/////w==\"}", [("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "9999")], HttpStatusCode.OK, "E0000000400", "neither" },
        { "push JSON without payload", $"{{\"payload\": \"{B64("{\"topic\": \"t\"}")}\"}}", [("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "9999")], HttpStatusCode.OK, "E0000000400", "payload" },
        { "push with a hostile topic", $"{{\"payload\": \"{B64("{\"topic\": \"../x\", \"payload\": \"AQID\"}")}\"}}", [("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "9999")], HttpStatusCode.OK, "E0000000400", "topic" },
        { "unary payload is not a Packet", "{\"payload\": \"/////w==\"}", [("x-ptp-uri", UnaryUri), ("x-ptp-target-node-id", "9999")], HttpStatusCode.OK, "E0000000400", "Packet" },
        { "pop is local", "{\"payload\": \"AQID\"}", [("x-ptp-uri", "/org.ppc.ptp.PrivateTransferTransport/pop"), ("x-ptp-target-node-id", "9999")], HttpStatusCode.OK, "E0000000400", "local operations" },
        { "unknown uri", "{\"payload\": \"AQID\"}", [("x-ptp-uri", "/v1/inner/router/set"), ("x-ptp-target-node-id", "9999")], HttpStatusCode.OK, "E0000000400", "cannot be invoked" },
    };

    [Theory]
    [MemberData(nameof(BadInvokes))]
    public async Task MalformedInvoke_GetsAClearError_AndNothingIsStored(string name, string body, (string Name, string Value)[] headers, HttpStatusCode status, string expected, string text)
    {
        await using var cluster = new TestCluster(output);
        var gateway = await StartAsync(cluster);
        using var http = new HttpClient();
        var client = new HttpChanClient(http, gateway.HttpPort, Session, "10000");

        var reply = await client.SendRawAsync("invoke", HttpChanClient.Json(body), withSession: true, headers);

        Assert.True(reply.Status == status, $"{name}: {reply.Status} {reply.Raw}");
        Assert.Equal(expected, status == HttpStatusCode.OK ? reply.Code : reply.Error);
        Assert.Contains(text, reply.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", reply.Raw, StringComparison.Ordinal);
        Assert.DoesNotContain(cluster.Temp.Path, reply.Raw, StringComparison.Ordinal);
        await ChanAssert.StillServesExactlyOnceAsync(gateway, client, message => client.InvokeAsync("9999", PushUri, ProduceRequest("t", message)));
    }

    [Fact]
    public async Task OversizedInvoke_Gets413_WithOrWithoutContentLength()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await StartAsync(cluster);
        using var http = new HttpClient();
        var client = new HttpChanClient(http, gateway.HttpPort, Session, "10000");
        var big = $"{{\"payload\": \"{Convert.ToBase64String(new byte[BodyLimit])}\"}}";

        var declared = await client.SendRawAsync("invoke", HttpChanClient.Json(big), withSession: true, ("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "9999"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.Status);
        Assert.Equal("too_large", declared.Error);

        var streamed = await client.SendRawAsync("invoke", new ChunkedContent(Encoding.UTF8.GetBytes(big)), withSession: true, ("x-ptp-uri", PushUri), ("x-ptp-target-node-id", "9999"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.Status);
        Assert.Equal("too_large", streamed.Error);

        await ChanAssert.StillServesExactlyOnceAsync(gateway, client, message => client.InvokeAsync("9999", PushUri, ProduceRequest("t", message)));
    }

    [Fact]
    public async Task InvokeForAPartyWithNoRoute_AnswersRouterErrorCode()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await StartAsync(cluster);
        using var http = new HttpClient();
        var client = new HttpChanClient(http, gateway.HttpPort, Session, "10000");

        var reply = await client.InvokeAsync("4242", PushUri, ProduceRequest("t", [1, 2, 3]));

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal("130", reply.Code);
        Assert.Contains("no route to party 4242", reply.Message, StringComparison.Ordinal);
        cluster.AssertNoUnexpectedErrors();
    }

    private static Task<TestGateway> StartAsync(TestCluster cluster) =>
        cluster.StartGatewayAsync("invoke-9999", "9999", RouteJson.Osx("9999"), configure: o => o.MaxLocalMessageBytes = BodyLimit);

    /// <summary>The JSON ProduceRequest an OSX HTTP client puts in an invoke payload.</summary>
    private static byte[] ProduceRequest(string topic, byte[] message) =>
        JsonSerializer.SerializeToUtf8Bytes(new { topic, payload = Convert.ToBase64String(message), msgCode = "", msgFlag = "" });

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}
