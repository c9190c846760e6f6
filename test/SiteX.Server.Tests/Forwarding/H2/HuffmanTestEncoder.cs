using SiteX.Server.Forwarding.H2;

namespace SiteX.Server.Tests.Forwarding.H2;

/// <summary>A plain Huffman encoder for the tests (the codec itself never Huffman-codes): each symbol's code from
/// <see cref="HuffmanCode"/>, MSB first, and the last byte padded with ones.</summary>
internal static class HuffmanTestEncoder
{
    public static byte[] Encode(ReadOnlySpan<byte> data)
    {
        var output = new List<byte>();
        ulong bits = 0;
        var count = 0;
        foreach (var b in data)
        {
            bits = (bits << HuffmanCode.Lengths[b]) | HuffmanCode.Codes[b];
            count += HuffmanCode.Lengths[b];
            while (count >= 8)
            {
                output.Add((byte)(bits >> (count - 8)));
                count -= 8;
            }
        }

        if (count > 0)
        {
            output.Add((byte)((bits << (8 - count)) | (0xFFu >> count)));
        }

        return [.. output];
    }
}
