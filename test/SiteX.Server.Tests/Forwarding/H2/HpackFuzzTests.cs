using SiteX.Server.Forwarding.H2;
using static SiteX.Server.Tests.Forwarding.H2.Hpack;

namespace SiteX.Server.Tests.Forwarding.H2;

/// <summary>
/// Random and mutated blocks: whatever a peer sends, the decoder either decodes it or throws
/// <see cref="HpackException"/>, and its table stays consistent. Seeded, so a failure reproduces; bounded by the number
/// of blocks (each decode is linear in its block), not by time.
/// </summary>
public sealed class HpackFuzzTests
{
    private const int Blocks = 100_000;

    /// <summary>Valid blocks to mutate: RFC 7541 Appendix C (C.5 and C.6 in sequence fill and evict a 256-byte
    /// table) and blocks with size updates, long integers and Huffman strings.</summary>
    private static readonly byte[][] s_seeds =
    [
        Hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
        Hex("8286 84be 5808 6e6f 2d63 6163 6865"),
        Hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
        Hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
        Hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
        Hex("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"),
        Hex("4883 640e ffc1 c0bf"),
        Hex("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"),
        Hex("4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
        Hex("203f e11f 1008 7061 7373 776f 7264 0673 6563 7265 74"),
        Hex("3fe1 01 7e 03 6e65 77 bebf"),
        Hex("047f 0a" + string.Concat(Enumerable.Repeat("61", 137))),
    ];

    /// <summary>Continuation bytes, to push integers towards overflow.</summary>
    private static readonly byte[] s_longInteger = [0xFF, 0xFF, 0xFF, 0xFF, 0x7F];

    [Fact]
    public void Decode_RandomAndMutatedBlocks_ThrowOnlyHpackException()
    {
        // Arrange
        var random = new Random(7540);
        var handler = new CountingHandler();
        var decoder = NewDecoder(random);
        var (decoded, rejected) = (0, 0);

        for (var i = 0; i < Blocks; i++)
        {
            var block = i % 5 == 0 ? RandomBlock(random) : Mutate(random, s_seeds[random.Next(s_seeds.Length)]);

            // Act: any exception but HpackException fails the test.
            try
            {
                decoder.Decode(block, handler);
                decoded++;
            }
            catch (HpackException)
            {
                rejected++;

                // As the connection would: close it and start the next with a new decoder (now and then go on with the
                // same one, whose table must still be consistent).
                if (random.Next(4) != 0)
                {
                    decoder = NewDecoder(random);
                }
            }

            // Assert
            AssertConsistent(decoder.DynamicTable);
        }

        Assert.True(decoded > Blocks / 10, $"only {decoded} of {Blocks} blocks decoded: the mutations are too destructive to test much");
        Assert.True(rejected > Blocks / 10, $"only {rejected} of {Blocks} blocks rejected");
    }

    private static HpackDecoder NewDecoder(Random random) =>
        new(maxDynamicTableSize: random.Next(4) switch { 0 => 0, 1 => 64, 2 => 256, _ => 4096 },
            maxHeaderListSize: random.Next(3) switch { 0 => 100, 1 => 1000, _ => 64 * 1024 });

    private static byte[] RandomBlock(Random random)
    {
        var block = new byte[random.Next(0, 48)];
        random.NextBytes(block);
        return block;
    }

    private static byte[] Mutate(Random random, byte[] seed)
    {
        var block = new List<byte>(seed);
        for (var mutations = random.Next(0, 4); mutations > 0; mutations--)
        {
            var at = block.Count == 0 ? 0 : random.Next(block.Count);
            switch (random.Next(6))
            {
                case 0 when block.Count > 0:
                    block[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when block.Count > 0:
                    block[at] = (byte)random.Next(256);
                    break;
                case 2:
                    block.RemoveRange(at, block.Count - at);
                    break;
                case 3:
                    block.Insert(at, (byte)random.Next(256));
                    break;
                case 4:
                    block.AddRange(s_seeds[random.Next(s_seeds.Length)]);
                    break;
                default:
                    block.InsertRange(at, s_longInteger[..random.Next(1, s_longInteger.Length + 1)]);
                    break;
            }
        }

        return [.. block];
    }

    private static void AssertConsistent(HpackDynamicTable table)
    {
        var size = 0;
        for (var i = 1; i <= table.Count; i++)
        {
            table.Get(i, out var name, out var value);
            size += name.Length + value.Length + HpackDynamicTable.EntryOverhead;
        }

        Assert.Equal(size, table.Size);
        Assert.True(table.Size <= table.MaxSize);
    }

    private sealed class CountingHandler : IHpackHeaderHandler
    {
        public long Bytes { get; private set; }

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Bytes += name.Length + value.Length;
    }
}
