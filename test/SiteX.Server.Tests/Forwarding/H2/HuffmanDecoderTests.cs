using System.Text;
using SiteX.Server.Forwarding.H2;
using static SiteX.Server.Tests.Forwarding.H2.Hpack;

namespace SiteX.Server.Tests.Forwarding.H2;

public sealed class HuffmanDecoderTests
{
    [Fact]
    public void HuffmanCode_IsTheCanonicalCodeOfItsLengths()
    {
        // RFC 7541 Appendix B is a canonical Huffman code: ordered by (length, symbol), each code is the previous one
        // plus one, shifted left by the growth in length. A mistyped code or length breaks this.
        var order = Enumerable.Range(0, 257).OrderBy(s => HuffmanCode.Lengths[s]).ThenBy(s => s).ToArray();
        var code = 0u;
        var length = HuffmanCode.Lengths[order[0]];
        foreach (var symbol in order)
        {
            code <<= HuffmanCode.Lengths[symbol] - length;
            length = HuffmanCode.Lengths[symbol];
            Assert.True(code == HuffmanCode.Codes[symbol], $"symbol {symbol}: expected 0x{code:x}, table has 0x{HuffmanCode.Codes[symbol]:x}");
            code++;
        }

        // Complete: the code space is used exactly (Kraft sum of 1), and EOS is 30 one bits.
        Assert.Equal(1L << 30, Enumerable.Range(0, 257).Sum(s => 1L << (30 - HuffmanCode.Lengths[s])));
        Assert.Equal((0x3fffffffu, (byte)30), (HuffmanCode.Codes[256], HuffmanCode.Lengths[256]));
    }

    [Fact]
    public void Decode_EverySymbol_GivesItsByte()
    {
        var destination = new byte[8];
        for (var symbol = 0; symbol < 256; symbol++)
        {
            var encoded = HuffmanTestEncoder.Encode([(byte)symbol]);

            var written = HuffmanDecoder.Decode(encoded, destination);

            Assert.Equal(1, written);
            Assert.Equal(symbol, destination[0]);
        }
    }

    [Theory]
    [InlineData("f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com")]
    [InlineData("a8eb 1064 9cbf", "no-cache")]
    [InlineData("25a8 49e9 5ba9 7d7f", "custom-key")]
    [InlineData("25a8 49e9 5bb8 e8b4 bf", "custom-value")]
    [InlineData("6402", "302")]
    [InlineData("aec3 771a 4b", "private")]
    [InlineData("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", "Mon, 21 Oct 2013 20:13:21 GMT")]
    [InlineData("9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", "https://www.example.com")]
    [InlineData("", "")]
    public void Decode_RfcStrings_GiveTheirText(string hex, string text)
    {
        var destination = new byte[64];

        var written = HuffmanDecoder.Decode(Hex(hex), destination);

        Assert.Equal(text, Encoding.ASCII.GetString(destination, 0, written));
    }

    [Fact]
    public void Decode_RandomBytes_RoundTrip()
    {
        var random = new Random(541);
        for (var round = 0; round < 2000; round++)
        {
            var data = new byte[random.Next(0, 200)];
            random.NextBytes(data);
            if (round % 2 == 0)
            {
                // Mostly header-like text, the common case.
                for (var i = 0; i < data.Length; i++)
                {
                    data[i] = (byte)random.Next(0x20, 0x7F);
                }
            }

            var encoded = HuffmanTestEncoder.Encode(data);
            var destination = new byte[encoded.Length * 8 / 5];

            var written = HuffmanDecoder.Decode(encoded, destination);

            Assert.Equal(data, destination[..written]);
        }
    }

    [Fact]
    public void Decode_DestinationTooSmall_ReturnsMinusOne()
    {
        var encoded = Hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff");

        Assert.Equal(-1, HuffmanDecoder.Decode(encoded, new byte[14]));
        Assert.Equal(15, HuffmanDecoder.Decode(encoded, new byte[15]));
    }

    [Theory]
    [InlineData("ff", "padding of 8 bits is longer than 7 bits")]
    [InlineData("1fff", "padding of 11 bits is longer than 7 bits")]
    [InlineData("18", "padding is not all ones")]
    [InlineData("1e", "padding is not all ones")]
    [InlineData("ffff ffff", "contains the EOS symbol")]
    [InlineData("1fff ffff ff", "contains the EOS symbol")]
    public void Decode_BadPaddingOrEos_Throws(string hex, string problem)
    {
        var error = Assert.Throws<HpackException>(() => HuffmanDecoder.Decode(Hex(hex), new byte[64]));

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_SevenBitsOfPadding_IsAccepted()
    {
        // 'a' (5 bits), ' ' (6) and '%' (6): 17 bits, so the third byte carries 7 bits of padding.
        var encoded = HuffmanTestEncoder.Encode("a %"u8);
        var destination = new byte[8];
        Assert.Equal(3, encoded.Length);
        Assert.Equal(0x7F, encoded[2] & 0x7F);

        Assert.Equal(3, HuffmanDecoder.Decode(encoded, destination));
        Assert.Equal("a %"u8.ToArray(), destination[..3]);

        // The same with the last padding bit zero.
        encoded[2] &= 0xFE;
        Assert.Throws<HpackException>(() => HuffmanDecoder.Decode(encoded, destination));
    }
}
