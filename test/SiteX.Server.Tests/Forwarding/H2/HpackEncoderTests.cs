using System.Text;
using SiteX.Server.Forwarding.H2;
using static SiteX.Server.Tests.Forwarding.H2.Hpack;

namespace SiteX.Server.Tests.Forwarding.H2;

public sealed class HpackEncoderTests
{
    [Fact]
    public void WriteHeader_StaticName_UsesItsIndex()
    {
        var destination = new byte[64];

        var length = HpackEncoder.WriteHeader("content-type", "application/grpc", destination);

        // 0000 1111 + 16 (31 on a 4-bit prefix), then a raw 16-byte value.
        Assert.Equal(Hex("0f10 10").Concat("application/grpc"u8.ToArray()), destination[..length]);
    }

    [Theory]
    [InlineData(":authority", 1)]
    [InlineData(":method", 2)]
    [InlineData(":path", 4)]
    [InlineData(":status", 8)]
    [InlineData("user-agent", 58)]
    [InlineData("www-authenticate", 61)]
    public void WriteHeader_StaticNames_UseTheLowestIndex(string name, int index)
    {
        var destination = new byte[64];
        var bytes = new byte[64];

        var length = HpackEncoder.WriteHeader(name, "x", destination);
        var byteLength = HpackEncoder.WriteHeader(Encoding.ASCII.GetBytes(name), "x"u8, bytes);

        var position = 0;
        Assert.Equal(index, HpackDecoder.ReadInteger(destination, ref position, 4));
        Assert.Equal(0, destination[0] & 0xF0);
        Assert.Equal(destination[..length], bytes[..byteLength]);
    }

    [Fact]
    public void WriteHeader_UnknownName_WritesLiteralName()
    {
        var destination = new byte[64];

        var length = HpackEncoder.WriteHeader("grpc-status", "0", destination);

        Assert.Equal(Hex("000b").Concat("grpc-status"u8.ToArray()).Concat(Hex("0130")), destination[..length]);
    }

    [Theory]
    [InlineData("content-type", "application/grpc")]
    [InlineData("x-custom", "v")]
    [InlineData("x-empty", "")]
    public void WriteHeader_ShortDestination_ReturnsMinusOne(string name, string value)
    {
        var needed = HpackEncoder.WriteHeader(name, value, new byte[64]);

        for (var size = 0; size < needed; size++)
        {
            Assert.Equal(-1, HpackEncoder.WriteHeader(name, value, new byte[size]));
            Assert.Equal(-1, HpackEncoder.WriteHeader(Encoding.Latin1.GetBytes(name), Encoding.Latin1.GetBytes(value), new byte[size]));
        }

        Assert.Equal(needed, HpackEncoder.WriteHeader(name, value, new byte[needed]));
        Assert.True(needed <= HpackEncoder.MaxEncodedLength(name.Length, value.Length));
    }

    [Fact]
    public void WriteHeader_CharAboveFF_Throws()
    {
        Assert.Throws<ArgumentException>(() => HpackEncoder.WriteHeader("x-name", "caf\u0113", new byte[64]));
        Assert.Throws<ArgumentException>(() => HpackEncoder.WriteHeader("x-\u0100", "v", new byte[64]));
    }

    [Fact]
    public void WriteHeader_Latin1Chars_WrittenAsOneByteEach()
    {
        var destination = new byte[64];
        var decoder = new HpackDecoder();

        var length = HpackEncoder.WriteHeader("x-name", "caf\u00e9\u00ff", destination);

        Assert.Equal([("x-name", "caf\u00e9\u00ff")], Decode(decoder, destination[..length]));
        Assert.Equal(0xFF, destination[length - 1]);
    }

    [Theory]
    [InlineData(3, 0x83)]
    [InlineData(6, 0x86)]
    [InlineData(7, 0x87)]
    [InlineData(61, 0xBD)]
    public void WriteIndexed_StaticIndex_WritesOneByte(int index, byte expected)
    {
        var destination = new byte[1];

        Assert.Equal(1, HpackEncoder.WriteIndexed(index, destination));
        Assert.Equal(expected, destination[0]);
        Assert.Equal(-1, HpackEncoder.WriteIndexed(index, []));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(62)]
    public void WriteIndexed_OutsideStaticTable_Throws(int index) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => HpackEncoder.WriteIndexed(index, new byte[1]));

    [Theory]
    [InlineData(0, "20")]
    [InlineData(30, "3e")]
    [InlineData(4096, "3fe11f")]
    public void WriteDynamicTableSizeUpdate_Size_WritesFivePrefixInteger(int size, string hex)
    {
        var destination = new byte[8];
        var decoder = new HpackDecoder();

        var length = HpackEncoder.WriteDynamicTableSizeUpdate(size, destination);

        Assert.Equal(Hex(hex), destination[..length]);
        Assert.Equal(-1, HpackEncoder.WriteDynamicTableSizeUpdate(size, new byte[length - 1]));
        Assert.Empty(Decode(decoder, destination[..length]));
        Assert.Equal(size, decoder.DynamicTable.MaxSize);
    }

    [Theory]
    [InlineData(0, 0, 3)]
    [InlineData(126, 126, 255)]
    [InlineData(127, 0, 131)]
    [InlineData(10, 255, 270)]
    public void MaxEncodedLength_CountsPrefixAndContinuationBytes(int nameLength, int valueLength, int expected) =>
        Assert.Equal(expected, HpackEncoder.MaxEncodedLength(nameLength, valueLength));

    [Fact]
    public void WriteHeader_RandomFields_DecodeToTheSameFields()
    {
        // Arrange: names from the static table and random tokens, values of random Latin-1 chars, some long.
        var random = new Random(7541);
        var decoder = new HpackDecoder();
        string[] staticNames = [":authority", ":path", "content-type", "te", "user-agent", "grpc-timeout", "date", "www-authenticate"];
        for (var round = 0; round < 500; round++)
        {
            var fields = new List<(string Name, string Value)>();
            var block = new byte[1 << 16];
            var length = 0;
            for (var i = random.Next(1, 12); i > 0; i--)
            {
                var name = random.Next(3) == 0 ? staticNames[random.Next(staticNames.Length)] : RandomName(random);
                var value = RandomValue(random);
                fields.Add((name, value));

                // Act: both overloads, alternately.
                var written = i % 2 == 0
                    ? HpackEncoder.WriteHeader(name, value, block.AsSpan(length))
                    : HpackEncoder.WriteHeader(Encoding.Latin1.GetBytes(name), Encoding.Latin1.GetBytes(value), block.AsSpan(length));
                Assert.InRange(written, 1, HpackEncoder.MaxEncodedLength(name.Length, value.Length));
                length += written;
            }

            if (random.Next(4) == 0)
            {
                length += HpackEncoder.WriteIndexed(random.Next(1, 62), block.AsSpan(length));
                fields.Add((Encoding.Latin1.GetString(HpackStaticTable.Name(block[length - 1] & 0x7F)), Encoding.Latin1.GetString(HpackStaticTable.Value(block[length - 1] & 0x7F))));
            }

            // Assert
            Assert.Equal(fields, Decode(decoder, block[..length]));
            Assert.Equal(0, decoder.DynamicTable.Count);
        }
    }

    private static string RandomName(Random random)
    {
        const string chars = "abcdefghijklmnopqrstuvwxyz0123456789-_.";
        var length = random.Next(10) == 0 ? random.Next(100, 300) : random.Next(1, 20);
        return string.Create(length, random, (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = chars[r.Next(chars.Length)];
            }
        });
    }

    private static string RandomValue(Random random)
    {
        var length = random.Next(10) == 0 ? random.Next(127, 3000) : random.Next(0, 40);
        return string.Create(length, random, (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = (char)r.Next(0x100);
            }
        });
    }
}
