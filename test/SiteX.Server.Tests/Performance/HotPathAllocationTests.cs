using SiteX.Server.Forwarding;
using SiteX.Server.Routing;
using SiteX.Shared;
using Xunit.Abstractions;
using Metadata = SiteX.Protocol.Eggroll.Proxy.Metadata;

namespace SiteX.Server.Tests.Performance;

/// <summary>
/// The hot paths of the micro-benchmarks (benchmarks/SiteX.MicroBenchmarks) stay within their allocation budgets
/// (<see cref="AllocationBudgets"/>). Each path runs <see cref="AllocationMeter.Rounds"/> rounds of
/// <see cref="AllocationMeter.Operations"/> calls after a warm-up, and its bytes per call (the least round) are counted
/// on the test's thread: deterministic, and unaffected by tests running in parallel.
/// </summary>
public sealed class HotPathAllocationTests(HotPathAllocationTests.Tables tables, ITestOutputHelper output) : IClassFixture<HotPathAllocationTests.Tables>
{
    [BudgetTheory]
    [InlineData(HotPathInputs.KnownParty, false)]
    [InlineData(HotPathInputs.UnknownParty, true)]
    [InlineData(HotPathInputs.UnknownParty, false)]
    public void RouteTableTryLookup_TenThousandParties_AllocatesNothing(string party, bool withDefaultParty)
    {
        // Arrange
        var table = withDefaultParty ? tables.WithDefaultParty : tables.WithoutDefaultParty;
        var found = table.TryLookup(party, HotPathInputs.Service, HotPathInputs.SelfParty, out _);

        // Act
        var bytes = AllocationMeter.PerOperation(() => table.TryLookup(party, HotPathInputs.Service, HotPathInputs.SelfParty, out _));

        // Assert
        Assert.Equal(party == HotPathInputs.KnownParty || withDefaultParty, found);
        Check("RouteTable.TryLookup", bytes, AllocationBudgets.RouteLookup);
    }

    [BudgetFact]
    public void RouteGroupPick_OneAndThreeEndpoints_AllocatesNothing()
    {
        // Arrange
        tables.WithoutDefaultParty.TryLookup(HotPathInputs.KnownParty, HotPathInputs.Service, null, out var one);
        tables.WithDefaultParty.TryLookup(HotPathInputs.UnknownParty, HotPathInputs.Service, null, out var three);

        // Act
        var bytes = AllocationMeter.PerOperation(() =>
        {
            one.Group.Pick();
            three.Group.Pick();
        });

        // Assert
        Assert.Equal((1, 3), (one.Group.Endpoints.Count, three.Group.Endpoints.Count));
        Check("RouteGroup.Pick", bytes, AllocationBudgets.RoutePick);
    }

    [BudgetTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void CallHeaders_DescribeAndTarget_AllocateNothing(bool fateFlow)
    {
        // Arrange
        var headers = fateFlow ? HotPathInputs.FateFlowHeaders() : HotPathInputs.InvokeHeaders(relayed: false);
        var call = new GatewayCall("GRPC", "MSG_REDIRECT");

        // Act
        var bytes = AllocationMeter.PerOperation(() =>
        {
            CallHeaders.Describe(call, headers);
            CallHeaders.TargetParty(headers);
            CallHeaders.TargetService(headers);
        });

        // Assert
        Assert.Equal((HotPathInputs.SelfParty, HotPathInputs.KnownParty), (call.SourceParty, CallHeaders.TargetParty(headers)));
        Check("CallHeaders.Describe/TargetParty/TargetService", bytes, AllocationBudgets.CallHeaders);
    }

    [BudgetFact]
    public void GrpcDeadlineTryParse_GrpcTimeoutHeader_AllocatesNothing()
    {
        // Arrange
        var headers = HotPathInputs.InvokeHeaders(relayed: false);

        // Act
        var bytes = AllocationMeter.PerOperation(() => _ = GrpcDeadline.TryParse(headers["grpc-timeout"], out _));

        // Assert
        Assert.True(GrpcDeadline.TryParse(headers["grpc-timeout"], out var timeout));
        Assert.Equal(TimeSpan.FromSeconds(30), timeout);
        Check("GrpcDeadline.TryParse", bytes, AllocationBudgets.GrpcDeadline);
    }

    [BudgetTheory]
    [InlineData(false, "9999#a1b2c3d4")]
    [InlineData(true, "10000#0e1f2a3b,9999#a1b2c3d4")]
    public void GatewayIdentityCheckLoop_FirstHopAndRelayed_WithinBudget(bool relayed, string nextVia)
    {
        // Arrange
        var identity = HotPathInputs.Identity();
        var headers = HotPathInputs.InvokeHeaders(relayed);

        // Act
        var bytes = AllocationMeter.PerOperation(() => identity.CheckLoop(headers, HotPathInputs.SelfParty));

        // Assert
        var check = identity.CheckLoop(headers, HotPathInputs.SelfParty);
        Assert.Equal((LoopVerdict.None, nextVia), (check.Verdict, check.NextVia));
        Check($"GatewayIdentity.CheckLoop ({(relayed ? "relayed" : "first hop")})", bytes,
            relayed ? AllocationBudgets.CheckLoopRelayed : AllocationBudgets.CheckLoopFirstHop);
    }

    [BudgetTheory]
    [InlineData(1024)]
    [InlineData(1024 * 1024)]
    public void PacketHeaderReaderPeekAsync_Body_AllocatesOnlyTheHeader(int bodyBytes)
    {
        // Arrange
        var reader = new ReplayPipeReader(HotPathInputs.Segmented(HotPathInputs.PacketFrame(bodyBytes)));
        Metadata? header = null;

        // Act
        var bytes = AllocationMeter.PerOperation(() =>
        {
            var peek = PacketHeaderReader.PeekAsync(reader, 4 * 1024 * 1024, CancellationToken.None);
            Assert.True(peek.IsCompletedSuccessfully); // the whole header is in the buffer: no await, no state machine box
            header = peek.Result.Header;
        });

        // Assert
        Assert.Equal(HotPathInputs.KnownParty, header!.Dst.PartyId);
        Check($"PacketHeaderReader.PeekAsync ({bodyBytes}-byte body)", bytes, AllocationBudgets.PacketHeaderPeek);
    }

    [BudgetFact]
    public void PacketHeaderReaderTryGetDestination_RollSiteHeader_WithinBudget()
    {
        // Arrange
        PacketHeaderReader.TryParse(new(HotPathInputs.PacketFrame(1024)), 4096, out var header, out _);
        string? party = null;

        // Act
        var bytes = AllocationMeter.PerOperation(() => PacketHeaderReader.TryGetDestination(header!, isPush: true, out party, out _, out _, out _));

        // Assert
        Assert.Equal(HotPathInputs.KnownParty, party);
        Check("PacketHeaderReader.TryGetDestination", bytes, AllocationBudgets.PacketDestination);
    }

    [BudgetFact]
    public void PacketHeaderReaderTryRead_InterSiteClaims_ParseTheRollSiteHeaderOnce()
    {
        // Arrange: what the gRPC plane reads from a peer gateway's push: destination, claimed sources and source role.
        PacketHeaderReader.TryParse(new(HotPathInputs.PacketFrame(1024)), 4096, out var header, out _);
        string? party = null;
        var claims = 0;

        // Act
        var bytes = AllocationMeter.PerOperation(() =>
        {
            PacketHeaderReader.TryRead(header!, isPush: true, out var route, out _);
            party = route.Party;
            claims = route.ClaimedSources().Count();
        });

        // Assert
        Assert.Equal(HotPathInputs.KnownParty, party);
        Assert.True(claims > 0, "the input Packet claims a source");
        Check("PacketHeaderReader.TryRead + ClaimedSources", bytes, AllocationBudgets.PacketRouteInterSite);
    }

    [BudgetTheory]
    [InlineData(1024)]
    [InlineData(1024 * 1024)]
    public void PushViewTryRead_Push_AllocatesOnlyTheTopicAndMessageId(int payloadBytes)
    {
        // Arrange: a push as FATE sends it: a topic, the payload, the message id in the metadata beside another entry.
        var push = new SiteX.Protocol.Ptp.PushInbound { Topic = "202611290001-fate-topic", Payload = Google.Protobuf.ByteString.CopyFrom(new byte[payloadBytes]) };
        push.Metadata["msgFlag"] = "flag";
        push.Metadata["msgId"] = "msg-000001";
        var serialized = Google.Protobuf.MessageExtensions.ToByteArray(push);
        SiteX.Server.Queues.PushView view = default;

        // Act
        var bytes = AllocationMeter.PerOperation(() => Assert.True(SiteX.Server.Queues.PushView.TryRead(serialized, out view)));

        // Assert
        Assert.Equal("msg-000001", view.MessageId(serialized));
        Check($"PushView.TryRead ({payloadBytes}-byte payload)", bytes, AllocationBudgets.PushViewRead);
    }

    private void Check(string path, double bytes, long budget)
    {
        output.WriteLine($"{path}: {bytes:0.#} B/op (budget {budget} B/op)");
        AllocationMeter.AssertWithin(path, bytes, budget);
    }

    /// <summary>The two 10 000-party route tables, built once for the class.</summary>
    public sealed class Tables
    {
        public RouteTable WithDefaultParty { get; } = HotPathInputs.RouteTable(withDefaultParty: true);

        public RouteTable WithoutDefaultParty { get; } = HotPathInputs.RouteTable(withDefaultParty: false);
    }
}
