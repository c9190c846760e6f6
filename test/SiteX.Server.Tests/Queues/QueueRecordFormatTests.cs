using System.Text;
using SiteX.Server.Queues.Storage;

namespace SiteX.Server.Tests.Queues;

/// <summary>Freezes the on-disk format of queue segments. The expected bytes were computed independently (a bitwise
/// CRC-32C in Python), not by this code. If one of these fails, the change breaks every existing store: add a new
/// magic/version instead.</summary>
public class QueueRecordFormatTests
{
    [Fact]
    public void Crc32C_StandardCheckValue_Matches()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
        var data = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        Assert.Equal(Crc32C.Compute(data), Crc32C.Finish(Crc32C.Update(Crc32C.Update(Crc32C.Initial, data.AsSpan(0, 333)), data.AsSpan(333))));
    }

    [Fact]
    public void RecordType_Values_AreFrozen()
    {
        Assert.Equal(1, (byte)QueueRecordType.Append);
        Assert.Equal(2, (byte)QueueRecordType.Consume);
        Assert.Equal(3, (byte)QueueRecordType.Release);
        Assert.Equal(4, (byte)QueueRecordType.Checkpoint);
        Assert.Equal(4, Enum.GetValues<QueueRecordType>().Length);
        Assert.Equal(0x31515853u, QueueRecordFormat.Magic);
        Assert.Equal("SXQ1", Encoding.ASCII.GetString(BitConverter.GetBytes(QueueRecordFormat.Magic)));
        Assert.Equal(13, QueueRecordFormat.HeaderSize);
    }

    [Fact]
    public void BuildAppend_Inline_MatchesGoldenBytes()
    {
        var record = QueueRecordFormat.BuildAppend(1, 1_700_000_000_000, "s", "t", "m", [0xAA, 0xBB], inline: true, out var prefixSize);

        Assert.Equal("5358513121000000478B74880101000000000000000068E5CF8B01000001000000730100000074010000006DAABB", Convert.ToHexString(record));
        Assert.Equal(31, prefixSize);
    }

    [Fact]
    public void BuildAppend_PayloadWrittenSeparately_HasTheSameHeader()
    {
        var inline = QueueRecordFormat.BuildAppend(1, 1_700_000_000_000, "s", "t", "m", [0xAA, 0xBB], inline: true, out _);
        var split = QueueRecordFormat.BuildAppend(1, 1_700_000_000_000, "s", "t", "m", [0xAA, 0xBB], inline: false, out var prefixSize);

        Assert.Equal(QueueRecordFormat.HeaderSize + prefixSize, split.Length);
        Assert.Equal(inline.AsSpan(0, split.Length).ToArray(), split);
    }

    [Fact]
    public void BuildAppend_NoMessageIdEmptyPayload_MatchesGoldenBytes()
    {
        var record = QueueRecordFormat.BuildAppend(7, 0, "sess", "top", null, [], inline: true, out _);

        Assert.Equal("5358513123000000A26D00460107000000000000000000000000000000040000007365737303000000746F70FFFFFFFF", Convert.ToHexString(record));
    }

    [Fact]
    public void BuildConsume_MatchesGoldenBytes() =>
        Assert.Equal("5358513108000000CF29378B022A00000000000000", Convert.ToHexString(QueueRecordFormat.BuildConsume(42)));

    [Fact]
    public void BuildRelease_Session_MatchesGoldenBytes() =>
        Assert.Equal("5358513109000000DB668513030100000073FFFFFFFF", Convert.ToHexString(QueueRecordFormat.BuildRelease("s", null)));

    [Fact]
    public void BuildRelease_Topic_MatchesGoldenBytes() =>
        Assert.Equal("535851310A000000D3B9AA2C0301000000730100000074", Convert.ToHexString(QueueRecordFormat.BuildRelease("s", "t")));

    [Fact]
    public void BuildCheckpoint_MatchesGoldenBytes() =>
        Assert.Equal("5358513108000000DDE315BC04E803000000000000", Convert.ToHexString(QueueRecordFormat.BuildCheckpoint(1000)));

    [Fact]
    public void TryParse_BuiltRecords_RoundTrip()
    {
        var append = QueueRecordFormat.BuildAppend(9, 123, "../../etc/passwd", "a\0b", "id", [1, 2, 3], inline: true, out var prefixSize);
        Assert.True(QueueRecordFormat.TryReadHeader(append, out var bodyLength, out _, out var type));
        Assert.Equal(QueueRecordType.Append, type);
        Assert.True(QueueRecordFormat.TryParseAppendPrefix(append.AsSpan(QueueRecordFormat.HeaderSize), bodyLength, out var sequence, out var unixMs, out var session, out var topic, out var messageId, out var parsedPrefix));
        Assert.Equal((9L, 123L, "../../etc/passwd", "a\0b", "id", prefixSize), (sequence, unixMs, session, topic, messageId, parsedPrefix));

        var release = QueueRecordFormat.BuildRelease("s", "t");
        Assert.True(QueueRecordFormat.TryParseRelease(release.AsSpan(QueueRecordFormat.HeaderSize), out var releasedSession, out var releasedTopic));
        Assert.Equal(("s", "t"), (releasedSession, releasedTopic));
    }

    [Fact]
    public void TryReadHeader_UnknownTypeOrMagic_IsRejected()
    {
        var record = QueueRecordFormat.BuildConsume(1);
        record[12] = 9;
        Assert.False(QueueRecordFormat.TryReadHeader(record, out _, out _, out _));
        record = QueueRecordFormat.BuildConsume(1);
        record[0] ^= 1;
        Assert.False(QueueRecordFormat.TryReadHeader(record, out _, out _, out _));
    }
}
