using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;
using Data = SiteX.Protocol.Eggroll.Proxy.Data;
using Metadata = SiteX.Protocol.Eggroll.Proxy.Metadata;
using Packet = SiteX.Protocol.Eggroll.Proxy.Packet;
using Topic = SiteX.Protocol.Eggroll.Proxy.Topic;
using SiteX.Protocol.Eggroll.Transfer;
using SiteX.Server.Forwarding;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Forwarding;

public sealed class PacketHeaderReaderTests
{
    [Fact]
    public async Task PeekAsync_HeaderArrivesInPieces_ReadsHeaderAndConsumesNothing()
    {
        var frame = Frame(new Packet
        {
            Header = new Metadata { Dst = new Topic { PartyId = "10000", Role = "fateflow" }, Src = new Topic { PartyId = "9999" } },
            Body = new Data { Key = "/v2/job/submit", Value = ByteString.CopyFrom(new byte[100_000]) },
        });
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0)); // the reader consumes nothing until the end
        var peek = PacketHeaderReader.PeekAsync(pipe.Reader, 4096, CancellationToken.None).AsTask();

        // One byte at a time for the first 40 bytes, then the rest.
        for (var i = 0; i < 40; i++)
        {
            await pipe.Writer.WriteAsync(frame.AsMemory(i, 1));
        }

        await pipe.Writer.WriteAsync(frame.AsMemory(40));
        await pipe.Writer.CompleteAsync();
        var result = await peek.DefaultTimeout();

        Assert.Equal(GatewayError.None, result.Error);
        Assert.Equal("10000", result.Header!.Dst.PartyId);
        var all = await pipe.Reader.ReadAtLeastAsync(frame.Length);
        Assert.Equal(frame, all.Buffer.ToArray());
    }

    [Fact]
    public void TryGetDestination_RollSiteHeaderInExt_WinsOverDst()
    {
        var header = new Metadata
        {
            Dst = new Topic { PartyId = "1", Role = "guest" },
            Ext = new RollSiteHeader { DstPartyId = "10000", DstRole = "host", SrcPartyId = "9999" }.ToByteString(),
        };

        Assert.True(PacketHeaderReader.TryGetDestination(header, isPush: true, out var party, out var role, out var source, out _));
        Assert.Equal(("10000", "host", "9999"), (party, role, source));

        Assert.True(PacketHeaderReader.TryGetDestination(header, isPush: false, out _, out var unaryRole, out _, out _));
        Assert.Equal("guest", unaryRole);
    }

    [Fact]
    public void TryGetDestination_MalformedExt_ReportsInvalidRollSiteHeader()
    {
        var header = new Metadata { Ext = ByteString.CopyFrom(0xFF, 0xFF, 0xFF) };

        Assert.False(PacketHeaderReader.TryGetDestination(header, isPush: true, out _, out _, out _, out var error));

        Assert.Contains("rollSiteHeader", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_BodyBeforeHeader_WithinLimit_StillFindsHeader()
    {
        var body = new Data { Value = ByteString.CopyFrom(new byte[100]) }.ToByteArray();
        var header = new Metadata { Dst = new Topic { PartyId = "7" } }.ToByteArray();
        var message = new List<byte> { 0x12 };
        message.AddRange(Varint(body.Length));
        message.AddRange(body);
        message.Add(0x0A);
        message.AddRange(Varint(header.Length));
        message.AddRange(header);

        var outcome = PacketHeaderReader.TryParse(new ReadOnlySequence<byte>(Prefix([.. message])), 4096, out var parsed, out _);

        Assert.Equal(PacketHeaderReader.ParseOutcome.Done, outcome);
        Assert.Equal("7", parsed!.Dst.PartyId);
    }

    [Fact]
    public void TryParse_LargeBodyBeforeHeader_IsTooLarge()
    {
        var message = new List<byte> { 0x12 };
        message.AddRange(Varint(10_000));

        var outcome = PacketHeaderReader.TryParse(new ReadOnlySequence<byte>(Prefix([.. message])), 4096, out _, out var error);

        Assert.Equal(PacketHeaderReader.ParseOutcome.TooLarge, outcome);
        Assert.Contains("header (field 1) first", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 1, 0, 0, 0, 1, 0 }, "compressed")]
    [InlineData(new byte[] { 0, 0, 0, 0, 2, 0x0B, 0x00 }, "wire type 3")]
    [InlineData(new byte[] { 0, 0, 0, 0, 2, 0x00, 0x00 }, "field number 0")]
    [InlineData(new byte[] { 0, 0, 0, 0, 3, 0x0A, 0x01, 0xFF }, "not a valid Metadata")]
    public void TryParse_Malformed_IsInvalidWithReason(byte[] bytes, string reason)
    {
        var outcome = PacketHeaderReader.TryParse(new ReadOnlySequence<byte>(bytes), 4096, out _, out var error);

        Assert.Equal(PacketHeaderReader.ParseOutcome.Invalid, outcome);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_HeaderOverLimit_IsTooLarge()
    {
        var header = new Metadata { Operator = new string('x', 5000) };
        var frame = Frame(new Packet { Header = header });

        var outcome = PacketHeaderReader.TryParse(new ReadOnlySequence<byte>(frame), 4096, out _, out var error);

        Assert.Equal(PacketHeaderReader.ParseOutcome.TooLarge, outcome);
        Assert.Contains("4096-byte limit", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PeekAsync_EmptyRequest_IsBadRequest()
    {
        var pipe = new Pipe();
        await pipe.Writer.CompleteAsync();

        var result = await PacketHeaderReader.PeekAsync(pipe.Reader, 4096, CancellationToken.None).AsTask().DefaultTimeout();

        Assert.Equal(GatewayError.BadRequest, result.Error);
        Assert.Equal("the call has no Packet", result.Message);
    }

    [Fact]
    public void TryParse_PacketWithoutHeader_GivesEmptyHeader()
    {
        var frame = Frame(new Packet { Body = new Data { Key = "k" } });

        var outcome = PacketHeaderReader.TryParse(new ReadOnlySequence<byte>(frame), 4096, out var header, out _);

        Assert.Equal(PacketHeaderReader.ParseOutcome.Done, outcome);
        Assert.Null(header!.Dst);
    }

    private static byte[] Frame(IMessage message) => Prefix(message.ToByteArray());

    private static byte[] Prefix(byte[] message)
    {
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    private static List<byte> Varint(int value)
    {
        var bytes = new List<byte>();
        var v = (uint)value;
        while (v >= 0x80)
        {
            bytes.Add((byte)(v | 0x80));
            v >>= 7;
        }

        bytes.Add((byte)v);
        return bytes;
    }
}
