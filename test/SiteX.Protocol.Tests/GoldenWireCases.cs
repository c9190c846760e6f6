using Google.Protobuf;
using Core = SiteX.Protocol.Eggroll.Core;
using Proxy = SiteX.Protocol.Eggroll.Proxy;
using Ptp = SiteX.Protocol.Ptp;
using Transfer = SiteX.Protocol.Eggroll.Transfer;

namespace SiteX.Protocol.Tests;

/// <summary>
/// Known messages with every field set, and their bytes derived by hand from the field numbers and types of
/// wire-contract.md sections 2.2 and 2.3. Never regenerate a hex string from the code: if a test fails, the proto
/// drifted from the contract.
/// </summary>
/// <remarks>
/// Tag = (field &lt;&lt; 3) | wire type; wire type 0 = varint, 2 = length-delimited. A map is a repeated entry message
/// with key = 1 and value = 2. Varints used below: 9370 = 9a 49, 120000 = c0 a9 07, 300 = ac 02,
/// 2^35 = 80 80 80 80 80 01 (needs 64 bits). Tags above 15: field 15 = 78, 16 = 80 01, 17 = 88 01, 18 = 90 01,
/// 20 (varint) = a0 01, 20 (bytes) = a2 01, 21 = a8 01, 30 (bytes) = f2 01, 100 (bytes) = a2 06, 10 (bytes) = 52.
/// ASCII: "k" 6b, "v" 76, "p" 70, "t" 74, "n" 6e, "d" 64, "s" 73, "o" 6f, "c" 63, "m" 6d, "1" 31, "2" 32.
/// </remarks>
internal static class GoldenWireCases
{
    private const long TwoTo35 = 1L << 35;

    public static readonly IReadOnlyDictionary<string, (IMessage Message, string Hex)> All =
        new Dictionary<string, (IMessage, string)>
        {
            // ---- org.ppc.ptp (section 2.2) ----
            ["ptp.Message"] = (
                new Ptp.Message { MsgId = "m1", Head = Bytes(0x01, 0x02), Body = ByteString.CopyFromUtf8("b") },
                "0a 02 6d 31 | 12 02 01 02 | 1a 01 62"),
            ["ptp.TopicInfo"] = (
                new Ptp.TopicInfo { Topic = "t", Ip = "ip", Port = 9370, CreateTimestamp = TwoTo35, Status = 1 },
                "0a 01 74 | 12 02 69 70 | 18 9a 49 | 20 80 80 80 80 80 01 | 28 01"),
            ["ptp.Inbound"] = (
                new Ptp.Inbound { Metadata = { ["k"] = "v", ["a"] = "b" }, Payload = Utf8("p") },
                "0a 06 0a 01 6b 12 01 76 | 0a 06 0a 01 61 12 01 62 | 12 01 70"),
            ["ptp.Outbound"] = (
                new Ptp.Outbound { Metadata = { ["k"] = "v" }, Payload = Utf8("p"), Code = "E0000000000", Message = "ok" },
                "0a 06 0a 01 6b 12 01 76 | 12 01 70 | 1a 0b 45 30 30 30 30 30 30 30 30 30 30 | 22 02 6f 6b"),
            ["ptp.PeekInbound"] = (
                new Ptp.PeekInbound { Topic = "t" },
                "0a 01 74"),
            ["ptp.PopInbound"] = (
                new Ptp.PopInbound { Topic = "t", Timeout = 120000 },
                "0a 01 74 | 10 c0 a9 07"),
            ["ptp.PushInbound"] = (
                new Ptp.PushInbound { Topic = "t", Payload = Utf8("p"), Metadata = { ["k"] = "v" } },
                "0a 01 74 | 12 01 70 | 1a 06 0a 01 6b 12 01 76"),
            ["ptp.ReleaseInbound"] = (
                new Ptp.ReleaseInbound { Topic = "t", Timeout = 5 },
                "0a 01 74 | 10 05"),
            ["ptp.TransportOutbound"] = (
                new Ptp.TransportOutbound { Metadata = { ["k"] = "v" }, Payload = Utf8("p"), Code = "0", Message = "m" },
                "0a 06 0a 01 6b 12 01 76 | 12 01 70 | 1a 01 30 | 22 01 6d"),

            // ---- com.webank.ai.eggroll.api.networking.proxy (section 2.3) ----
            ["proxy.Model"] = (
                new Proxy.Model { Name = "n", DataKey = "d" },
                "0a 01 6e | 12 01 64"),
            ["proxy.Task"] = (
                new Proxy.Task { TaskId = "t", Model = new Proxy.Model { Name = "n", DataKey = "d" } },
                "0a 01 74 | 12 06 0a 01 6e 12 01 64"),
            ["proxy.Topic"] = (
                new Proxy.Topic
                {
                    Name = "n",
                    PartyId = "9999",
                    Role = "guest",
                    Callback = new Core.Endpoint { Ip = "1", Port = 9370, Hostname = "h" },
                },
                "0a 01 6e | 12 04 39 39 39 39 | 1a 05 67 75 65 73 74 | 22 09 0a 01 31 10 9a 49 1a 01 68"),
            ["proxy.Command"] = (
                new Proxy.Command { Name = "c" },
                "0a 01 63"),
            ["proxy.Conf"] = (
                new Proxy.Conf { OverallTimeout = TwoTo35, CompletionWaitTimeout = 2, PacketIntervalTimeout = 3, MaxRetries = 4 },
                "08 80 80 80 80 80 01 | 10 02 | 18 03 | 20 04"),
            ["proxy.Metadata"] = (
                new Proxy.Metadata
                {
                    Task = new Proxy.Task { TaskId = "t" },
                    Src = new Proxy.Topic { Name = "s" },
                    Dst = new Proxy.Topic { PartyId = "1" },
                    Command = new Proxy.Command { Name = "c" },
                    Operator = "o",
                    Seq = 300,
                    Ack = 7,
                    Conf = new Proxy.Conf { MaxRetries = 1 },
                    Ext = Bytes(0xab),
                    Version = "2",
                },
                "0a 03 0a 01 74 | 12 03 0a 01 73 | 1a 03 12 01 31 | 22 03 0a 01 63 | 2a 01 6f | 30 ac 02 | 38 07"
                + " | 42 02 20 01 | 4a 01 ab | a2 06 01 32"),
            ["proxy.Data"] = (
                new Proxy.Data { Key = "k", Value = Bytes(0x00, 0xff) },
                "0a 01 6b | 12 02 00 ff"),
            ["proxy.Packet"] = (
                new Proxy.Packet { Header = new Proxy.Metadata { Seq = 1 }, Body = new Proxy.Data { Key = "k" } },
                "0a 02 30 01 | 12 03 0a 01 6b"),
            ["proxy.HeartbeatResponse"] = (
                new Proxy.HeartbeatResponse { Header = new Proxy.Metadata { Operator = "o" }, Operation = Proxy.Operation.PutData },
                "0a 03 2a 01 6f | 10 05"),
            ["proxy.PollingFrame"] = (
                new Proxy.PollingFrame
                {
                    Method = "m",
                    Seq = 2,
                    Metadata = new Proxy.Metadata { Ack = 3 },
                    Packet = new Proxy.Packet { Body = new Proxy.Data { Key = "k" } },
                    Desc = "d",
                },
                "0a 01 6d | 10 02 | 52 02 38 03 | a2 01 05 12 03 0a 01 6b | f2 01 01 64"),

            // ---- com.webank.ai.eggroll.api.core (section 2.3) ----
            ["core.Endpoint"] = (
                new Core.Endpoint { Ip = "1", Port = 9370, Hostname = "h" },
                "0a 01 31 | 10 9a 49 | 1a 01 68"),

            // ---- com.webank.eggroll.core.transfer (section 2.3) ----
            ["transfer.RollSiteHeader"] = (
                new Transfer.RollSiteHeader
                {
                    RollSiteSessionId = "s",
                    Name = "n",
                    Tag = "t",
                    SrcRole = "a",
                    SrcPartyId = "1",
                    DstRole = "b",
                    DstPartyId = "2",
                    DataType = "d",
                    Options = { ["k"] = "v" },
                    TotalPartitions = 4,
                    PartitionId = 3,
                    TotalStreams = 2,
                    TotalBatches = 5,
                    StreamSeq = 6,
                    BatchSeq = 7,
                    Stage = "x",
                },
                "0a 01 73 | 12 01 6e | 1a 01 74 | 22 01 61 | 2a 01 31 | 32 01 62 | 3a 01 32 | 42 01 64"
                + " | 52 06 0a 01 6b 12 01 76 | 78 04 | 80 01 03 | 88 01 02 | 90 01 05 | a0 01 06 | a8 01 07 | f2 01 01 78"),
            ["transfer.TransferHeader"] = (
                new Transfer.TransferHeader { Id = 1, Tag = "t", TotalSize = TwoTo35, Status = "s", Ext = Bytes(0x01) },
                "08 01 | 12 01 74 | 18 80 80 80 80 80 01 | 22 01 73 | 2a 01 01"),
            ["transfer.TransferBatch"] = (
                new Transfer.TransferBatch { Header = new Transfer.TransferHeader { Id = 1 }, BatchSize = 3, Data = Utf8("d") },
                "0a 02 08 01 | 10 03 | 1a 01 64"),
        };

    public static byte[] ParseHex(string hex) =>
        Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal).Replace("|", "", StringComparison.Ordinal));

    private static ByteString Bytes(params byte[] bytes) => ByteString.CopyFrom(bytes);

    private static ByteString Utf8(string text) => ByteString.CopyFromUtf8(text);
}
