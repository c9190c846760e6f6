using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Protocol.Eggroll.Transfer;
using SiteX.Server.Configuration;
using SiteX.Server.Forwarding;
using SiteX.Server.Internal;
using SiteX.Server.Routing;
using Command = SiteX.Protocol.Eggroll.Proxy.Command;
using Conf = SiteX.Protocol.Eggroll.Proxy.Conf;
using Data = SiteX.Protocol.Eggroll.Proxy.Data;
using EggrollTask = SiteX.Protocol.Eggroll.Proxy.Task;
using Metadata = SiteX.Protocol.Eggroll.Proxy.Metadata;
using Packet = SiteX.Protocol.Eggroll.Proxy.Packet;
using Topic = SiteX.Protocol.Eggroll.Proxy.Topic;

namespace SiteX.Shared;

/// <summary>
/// The inputs of the hot-path micro-benchmarks (benchmarks/SiteX.MicroBenchmarks) and of the allocation budget tests
/// (test/SiteX.Server.Tests/Performance), built the same way for both so that a budget guards what the benchmark
/// measures. Compiled into both projects (neither may depend on the other).
/// </summary>
internal static class HotPathInputs
{
    /// <summary>Parties in the big route tables (target O3: 10 000 parties, lookup allocation-free).</summary>
    public const int Parties = 10_000;

    /// <summary>This gateway's party.</summary>
    public const string SelfParty = "9999";

    /// <summary>A party of the big tables (they hold parties 10000 to 19999).</summary>
    public const string KnownParty = "15000";

    /// <summary>A party no big table names.</summary>
    public const string UnknownParty = "88888";

    /// <summary>The named service every party of the big tables has, besides <c>default</c>.</summary>
    public const string Service = "fateflow";

    /// <summary>This gateway's <c>x-sitex-via</c> instance id.</summary>
    public const string InstanceId = "a1b2c3d4";

    /// <summary>The instance id of the gateway a relayed call comes from.</summary>
    public const string PeerVia = "10000#0e1f2a3b";

    /// <summary>The <c>grpc-timeout</c> every sample call carries.</summary>
    public const string GrpcTimeout = "30S";

    /// <summary>
    /// A route table of <see cref="Parties"/> parties (<c>10000</c> up), each with a <c>default</c> and a
    /// <see cref="Service"/> service on one gRPC endpoint, like the <c>reload</c> benchmark's 10 000-party table; with
    /// <paramref name="withDefaultParty"/> also the <c>default</c> party (an exchange) with three endpoints.
    /// </summary>
    public static RouteTable RouteTable(bool withDefaultParty)
    {
        var rules = new List<RouteRuleConfig>(2 * Parties + 1);
        for (var i = 0; i < Parties; i++)
        {
            var party = (10_000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture);
            EndpointConfig[] endpoint = [new() { Host = $"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}", Port = 9370 }];
            rules.Add(new RouteRuleConfig { DstParty = party, Service = RouteTableParser.DefaultKey, Endpoints = endpoint });
            rules.Add(new RouteRuleConfig { DstParty = party, Service = Service, Endpoints = endpoint });
        }

        if (withDefaultParty)
        {
            EndpointConfig[] exchange = [.. Enumerable.Range(1, 3).Select(n => new EndpointConfig { Host = $"10.255.0.{n}", Port = 9370 })];
            rules.Add(new RouteRuleConfig { DstParty = RouteTableParser.DefaultKey, Service = RouteTableParser.DefaultKey, Endpoints = exchange });
        }

        return Server.Routing.RouteTable.Create(new RouteTableConfig { Rules = rules }, [SelfParty], 1, "micro-benchmark");
    }

    /// <summary>The headers of a PTP <c>invoke</c> from a FATE service (as sent by OSX clients), plus gRPC's own;
    /// with <paramref name="relayed"/> also the loop headers a peer gateway adds.</summary>
    /// <remarks>A <see cref="HeaderDictionary"/>: Kestrel's own request headers keep the <c>x-ptp-*</c> headers in the
    /// same kind of case-insensitive dictionary (only standard headers get fields of their own).</remarks>
    public static HeaderDictionary InvokeHeaders(bool relayed)
    {
        var headers = new HeaderDictionary
        {
            ["content-type"] = "application/grpc",
            ["te"] = "trailers",
            ["user-agent"] = "grpc-java-netty/1.62.2",
            ["grpc-accept-encoding"] = "gzip",
            ["grpc-timeout"] = GrpcTimeout,
            [PtpHeaders.Version] = "1.0",
            [PtpHeaders.TechProviderCode] = "FATE",
            [PtpHeaders.TraceId] = "202611281200000000001_trace",
            [PtpHeaders.SourceNodeId] = SelfParty,
            [PtpHeaders.TargetNodeId] = KnownParty,
            [PtpHeaders.SessionId] = "202611281200000000001_session",
            [PtpHeaders.Topic] = "202611281200000000001-guest-9999-host-15000",
            [PtpHeaders.Uri] = "/v2/partner/job/create",
            [PtpHeaders.SourceComponentName] = "fateflow",
            [PtpHeaders.TargetComponentName] = Service,
            [PtpHeaders.JobId] = "202611281200000000001",
        };
        if (relayed)
        {
            headers[SiteXHeaders.Hops] = "1";
            headers[SiteXHeaders.Via] = PeerVia;
        }

        return headers;
    }

    /// <summary>FATE-Flow's gRPC metadata (no <c>x-ptp-*</c>): the header lookups fall through to the last spelling.</summary>
    public static HeaderDictionary FateFlowHeaders() => new()
    {
        ["content-type"] = "application/grpc",
        ["te"] = "trailers",
        ["grpc-timeout"] = GrpcTimeout,
        [PtpHeaders.FateSrcPartyId] = SelfParty,
        [PtpHeaders.FateSrcRole] = "guest",
        [PtpHeaders.FateDestPartyId] = KnownParty,
        [PtpHeaders.FateService] = Service,
    };

    /// <summary>The gateway identity that <see cref="GatewayIdentity.CheckLoop"/> runs on.</summary>
    public static GatewayIdentity Identity() => new(Options.Create(new SiteXOptions { InstanceId = InstanceId }));

    /// <summary>
    /// The first gRPC message of an eggroll <c>DataTransferService/push</c> as rollsite sends it: a Packet whose header
    /// (task, src, dst, command, conf and a <c>RollSiteHeader</c> in <c>ext</c>) comes before a body of
    /// <paramref name="bodyBytes"/> bytes, with its 5-byte gRPC prefix.
    /// </summary>
    public static byte[] PacketFrame(int bodyBytes)
    {
        var rollSite = new RollSiteHeader
        {
            RollSiteSessionId = "202611281200000000001_fed",
            Name = "secureboost_0.guest_host_grad_and_hess",
            Tag = "tree_0.round_3",
            SrcRole = "guest",
            SrcPartyId = SelfParty,
            DstRole = "host",
            DstPartyId = KnownParty,
            DataType = "object",
            TotalPartitions = 4,
            PartitionId = 1,
            TotalStreams = 1,
            TotalBatches = 1,
            StreamSeq = 1,
            BatchSeq = 1,
            Stage = "batch",
        };
        var packet = new Packet
        {
            Header = new Metadata
            {
                Task = new EggrollTask { TaskId = "202611281200000000001" },
                Src = new Topic { Name = "202611281200000000001", PartyId = SelfParty, Role = "guest" },
                Dst = new Topic { Name = "202611281200000000001", PartyId = KnownParty, Role = "host" },
                Command = new Command { Name = "push" },
                Operator = "push",
                Seq = 1,
                Conf = new Conf { OverallTimeout = 600_000, PacketIntervalTimeout = 20_000 },
                Ext = rollSite.ToByteString(),
                Version = "2.0",
            },
            Body = new Data { Key = "secureboost_0", Value = ByteString.CopyFrom(new byte[bodyBytes]) },
        };
        var message = packet.ToByteArray();
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    /// <summary>
    /// The header block a gRPC server's HPACK encoder sends first on a connection: <c>:status: 200</c> indexed, then
    /// <c>content-type: application/grpc</c>, <c>grpc-encoding: identity</c> and a <c>date</c> as Huffman-coded literals
    /// with incremental indexing (each decode inserts three dynamic table entries, so a decoder fed it repeatedly keeps
    /// evicting). Made with the tests' Huffman encoder (test/SiteX.Server.Tests/Forwarding/H2).
    /// </summary>
    public static byte[] GrpcResponseHeaders() => Convert.FromHexString(
        "885F8B1D75D0620D263D4C4D6564408A9ACAC8B16A21E435537F863485A9264FAF6196D07ABE941054D444A8200595040B8166E082A62D1BFF");

    /// <summary>The same four fields as the encoder sends them on later responses: the static <c>:status: 200</c> and
    /// three dynamic table indexes.</summary>
    public static byte[] GrpcResponseHeadersIndexed() => [0x88, 0xC0, 0xBF, 0xBE];

    /// <summary><paramref name="bytes"/> as a request body pipe presents it: in <paramref name="segmentBytes"/> segments
    /// (Kestrel's are 4 KiB), so the header may straddle two.</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] bytes, int segmentBytes = 4096)
    {
        var first = new SequenceSegment(bytes.AsMemory(0, Math.Min(segmentBytes, bytes.Length)));
        var last = first;
        for (var offset = segmentBytes; offset < bytes.Length; offset += segmentBytes)
        {
            last = last.Append(bytes.AsMemory(offset, Math.Min(segmentBytes, bytes.Length - offset)));
        }

        return SequenceSegment.Sequence(first, last);
    }
}

/// <summary>
/// A request body reader that always shows the same bytes, as if the whole first message had arrived and the call's
/// stream were still open: <see cref="PacketHeaderReader.PeekAsync"/> reads it again and again without a new reader
/// (or a copy of a 1 MiB body) per operation. It keeps no state, so a peek that consumed anything would go unnoticed
/// here; the reader's own tests check that.
/// </summary>
internal sealed class ReplayPipeReader(ReadOnlySequence<byte> buffer) : PipeReader
{
    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
        new(new ReadResult(buffer, isCanceled: false, isCompleted: false));

    public override bool TryRead(out ReadResult result)
    {
        result = new ReadResult(buffer, isCanceled: false, isCompleted: false);
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed)
    {
    }

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
    }

    public override void CancelPendingRead()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }
}
