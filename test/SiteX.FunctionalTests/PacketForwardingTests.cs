using Google.Protobuf;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol.Eggroll.Proxy;
using SiteX.Protocol.Eggroll.Transfer;
using Xunit.Abstractions;
using PacketMetadata = SiteX.Protocol.Eggroll.Proxy.Metadata;
using Task = System.Threading.Tasks.Task;

namespace SiteX.FunctionalTests;

/// <summary>
/// FATE's stream/eggroll mode and control plane: <c>DataTransferService.unaryCall</c> and <c>push</c>, routed by the
/// Packet header as OSX does (wire-contract 2.3, 2.6, 5.2, 5.3), from site 9999 to FATE-Flow/FATE-Serving at 10000.
/// </summary>
public sealed class PacketForwardingTests(ITestOutputHelper output)
{
    private sealed record FateSites(TestGateway A, TestGateway B, FakeFateServer FateFlow, FakeFateServer Serving);

    private static async Task<FateSites> StartAsync(TestCluster cluster)
    {
        var fateflow = await cluster.StartFakeFateAsync("fateflow-b");
        var serving = await cluster.StartFakeFateAsync("serving-b");
        var b = await cluster.StartGatewayAsync("B", TwoSites.PartyB, RouteJson.Osx(TwoSites.PartyB,
            new Route(TwoSites.PartyB, "fateflow", fateflow.Port),
            new Route(TwoSites.PartyB, "serving", serving.Port)));
        var a = await cluster.StartGatewayAsync("A", TwoSites.PartyA, RouteJson.Osx(TwoSites.PartyA, new Route(TwoSites.PartyB, "default", b.GrpcPort)));
        return new FateSites(a, b, fateflow, serving);
    }

    /// <summary>A Packet exactly as FATE-Flow's <c>wrap_proxy_grpc_packet</c> builds it.</summary>
    private static Packet FateFlowPacket(string role, string jobId = "202501010000000001") => new()
    {
        Header = new PacketMetadata
        {
            Task = new SiteX.Protocol.Eggroll.Proxy.Task
            {
                TaskId = jobId,
                Model = new Model { Name = "headers", DataKey = """{"initiator-party-id": "9999", "signature": "abc"}""" },
            },
            Src = new Topic { Name = jobId, PartyId = TwoSites.PartyA, Role = role, Callback = new SiteX.Protocol.Eggroll.Core.Endpoint { Ip = "127.0.0.1", Port = 9360 } },
            Dst = new Topic { Name = jobId, PartyId = TwoSites.PartyB, Role = role },
            Command = new Command { Name = "/v2/partner/job/create" },
            Operator = "POST",
            Conf = new Conf { OverallTimeout = 10_000 },
        },
        Body = new Data { Key = "/v2/partner/job/create", Value = ByteString.CopyFromUtf8("""{"job_id": "202501010000000001"}""") },
    };

    private static Grpc.Core.Metadata FateFlowMetadata(string service) => new()
    {
        { "service", service },
        { "src-party-id", TwoSites.PartyA },
        { "src-role", "guest" },
        { "dest-party-id", TwoSites.PartyB },
        { "dest-role", "host" },
    };

    [Theory]
    [InlineData("fateflow")]
    [InlineData("serving")]
    public async Task UnaryCall_FromFateFlowAtA_ReachesRoleAtB(string role)
    {
        await using var cluster = new TestCluster(output);
        var sites = await StartAsync(cluster);
        var client = new DataTransferService.DataTransferServiceClient(cluster.Channel(sites.A));
        var request = FateFlowPacket(role);

        var reply = await client.unaryCallAsync(request, FateFlowMetadata(role), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        var (expected, other) = role == "fateflow" ? (sites.FateFlow, sites.Serving) : (sites.Serving, sites.FateFlow);
        Assert.Equal(1, expected.Service.UnaryCalls);
        Assert.Equal(0, other.Service.UnaryCalls);
        Assert.Equal(request.Header.Dst, reply.Header.Src);
        Assert.Equal(request.Header.Src, reply.Header.Dst);
        Assert.Equal(request.Body, reply.Body);
        Assert.Equal(request.Header.Task, reply.Header.Task);
        var headers = Assert.Single(expected.Service.RequestHeaders);
        Assert.Equal(role, headers.GetValue("service"));
        Assert.Equal(TwoSites.PartyB, headers.GetValue("dest-party-id"));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Push_ManyPacketsWithRollSiteHeader_AllArriveAndFirstMetadataIsAcknowledged()
    {
        await using var cluster = new TestCluster(output);
        var sites = await StartAsync(cluster);
        var client = new DataTransferService.DataTransferServiceClient(cluster.Channel(sites.A));
        const int packets = 200;

        using var call = client.push(deadline: TestCluster.Deadline());
        for (var seq = 1; seq <= packets; seq++)
        {
            var rollSite = new RollSiteHeader
            {
                RollSiteSessionId = "session-1",
                Name = "table",
                Tag = "tag",
                SrcRole = "guest",
                SrcPartyId = TwoSites.PartyA,
                DstRole = "serving",
                DstPartyId = TwoSites.PartyB,
                DataType = "object",
                PartitionId = 0,
                TotalPartitions = 1,
                BatchSeq = seq,
                Stage = seq == packets ? "finish_partition" : "",
            };
            var packet = new Packet
            {
                // dst.role says "host"; the RollSiteHeader's dstRole decides the route for push (OSX semantics).
                Header = new PacketMetadata
                {
                    Src = new Topic { PartyId = TwoSites.PartyA, Role = "guest" },
                    Dst = new Topic { PartyId = TwoSites.PartyB, Role = "host" },
                    Seq = seq,
                    Ext = rollSite.ToByteString(),
                    Version = "2.5.0",
                },
                Body = new Data { Key = seq.ToString(System.Globalization.CultureInfo.InvariantCulture), Value = ByteString.CopyFrom(new byte[4096]) },
            };
            await call.RequestStream.WriteAsync(packet).DefaultTimeout();
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        var ack = await call.ResponseAsync.DefaultTimeout();

        Assert.Equal(1, ack.Seq);
        Assert.Equal(1, ack.Ack);
        Assert.Equal(TwoSites.PartyB, RollSiteHeader.Parser.ParseFrom(ack.Ext).DstPartyId);
        Assert.Equal(packets, sites.Serving.Service.PushPackets);
        Assert.Equal(1, sites.Serving.Service.PushCalls);
        Assert.Equal(0, sites.FateFlow.Service.PushCalls);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Push_DestinationOnlyInRollSiteHeader_IsRoutedByIt()
    {
        await using var cluster = new TestCluster(output);
        var sites = await StartAsync(cluster);
        var client = new DataTransferService.DataTransferServiceClient(cluster.Channel(sites.A));
        var packet = new Packet
        {
            Header = new PacketMetadata
            {
                Seq = 7,
                Ext = new RollSiteHeader { SrcPartyId = TwoSites.PartyA, SrcRole = "guest", DstPartyId = TwoSites.PartyB, DstRole = "fateflow" }.ToByteString(),
            },
            Body = new Data { Value = ByteString.CopyFromUtf8("only ext") },
        };

        using var call = client.push(deadline: TestCluster.Deadline());
        await call.RequestStream.WriteAsync(packet).DefaultTimeout();
        await call.RequestStream.CompleteAsync().DefaultTimeout();
        var ack = await call.ResponseAsync.DefaultTimeout();

        Assert.Equal(7, ack.Ack);
        Assert.Null(ack.Dst);
        Assert.Equal(1, sites.FateFlow.Service.PushPackets);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Push_MalformedRollSiteHeader_IsRejectedAndNothingIsForwarded()
    {
        await using var cluster = new TestCluster(output);
        var sites = await StartAsync(cluster);
        var client = new DataTransferService.DataTransferServiceClient(cluster.Channel(sites.A));
        var packet = new Packet
        {
            Header = new PacketMetadata
            {
                Dst = new Topic { PartyId = TwoSites.PartyB, Role = "fateflow" },
                Ext = ByteString.CopyFrom(0xFF, 0xFF, 0xFF, 0xFF),
            },
            Body = new Data { Value = ByteString.CopyFromUtf8("x") },
        };

        using var call = client.push(deadline: TestCluster.Deadline());
        RpcException ex;
        try
        {
            await call.RequestStream.WriteAsync(packet).DefaultTimeout();
            await call.RequestStream.CompleteAsync().DefaultTimeout();
            ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        }
        catch (RpcException early)
        {
            // The gateway may answer before the client finished writing.
            ex = early;
        }

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("rollSiteHeader", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("bad_request", call.GetTrailers().GetValue("x-sitex-error"));
        Leaks.AssertNone(ex.Status.Detail, sites.B.GrpcPort, sites.FateFlow.Port, sites.Serving.Port);

        var unary = await Assert.ThrowsAsync<RpcException>(() =>
            client.unaryCallAsync(packet, deadline: TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.InvalidArgument, unary.StatusCode);

        Assert.Equal(0, sites.FateFlow.Service.PushCalls + sites.FateFlow.Service.UnaryCalls);
        Assert.Equal(0, sites.Serving.Service.PushCalls + sites.Serving.Service.UnaryCalls);
        cluster.AssertNoUnexpectedErrors();
    }
}
