using System.Text;
using SiteX.Server.Forwarding.H2;
using static SiteX.Server.Tests.Forwarding.H2.Hpack;

namespace SiteX.Server.Tests.Forwarding.H2;

/// <summary>
/// The decoder against a plain model of the dynamic table (a list, newest first): random blocks that use every
/// representation, indexed names from the dynamic table included, and size updates, on small tables that evict often.
/// After each block the fields and the table must match the model's.
/// </summary>
public sealed class HpackModelTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(64)]
    [InlineData(100)]
    [InlineData(256)]
    [InlineData(4096)]
    public void Decode_RandomBlocks_MatchTheModelTable(int tableSize)
    {
        var random = new Random(tableSize + 1);
        var decoder = new HpackDecoder(tableSize);
        var model = new ModelTable(tableSize);
        for (var round = 0; round < 400; round++)
        {
            // Arrange
            var writer = new BlockWriter();
            var expected = new List<(string Name, string Value)>();
            if (random.Next(8) == 0)
            {
                for (var updates = random.Next(1, 3); updates > 0; updates--)
                {
                    var size = random.Next(tableSize + 1);
                    writer.Integer(size, 5, 0x20);
                    model.SetMaxSize(size);
                }
            }

            for (var fields = random.Next(1, 10); fields > 0; fields--)
            {
                expected.Add(WriteRandomField(random, writer, model));
            }

            // Act
            var headers = Decode(decoder, writer.ToArray());

            // Assert
            Assert.Equal(expected, headers);
            Assert.Equal(model.Entries, Table(decoder));
            Assert.Equal(model.Size, decoder.DynamicTable.Size);
        }
    }

    private static (string, string) WriteRandomField(Random random, BlockWriter writer, ModelTable model)
    {
        var kind = random.Next(5);
        if (kind == 0 || (kind == 1 && model.Entries.Count == 0))
        {
            var index = random.Next(1, HpackStaticTable.Count + 1);
            writer.Integer(index, 7, 0x80);
            return (Latin1(HpackStaticTable.Name(index)), Latin1(HpackStaticTable.Value(index)));
        }

        if (kind == 1)
        {
            var entry = random.Next(model.Entries.Count);
            writer.Integer(HpackStaticTable.Count + 1 + entry, 7, 0x80);
            return model.Entries[entry];
        }

        // Literal: 2 with incremental indexing, 3 without indexing, 4 never indexed.
        var (prefix, pattern) = kind switch { 2 => (6, (byte)0x40), 3 => (4, (byte)0x00), _ => (4, (byte)0x10) };
        string name;
        var nameKind = random.Next(3);
        if (nameKind == 0 && model.Entries.Count > 0)
        {
            var entry = random.Next(model.Entries.Count);
            writer.Integer(HpackStaticTable.Count + 1 + entry, prefix, pattern);
            name = model.Entries[entry].Name;
        }
        else if (nameKind == 1)
        {
            var index = random.Next(1, HpackStaticTable.Count + 1);
            writer.Integer(index, prefix, pattern);
            name = Latin1(HpackStaticTable.Name(index));
        }
        else
        {
            writer.Integer(0, prefix, pattern);
            name = RandomText(random, random.Next(1, 30));
            writer.String(name, huffman: random.Next(2) == 0);
        }

        var value = RandomText(random, random.Next(8) == 0 ? random.Next(40, 200) : random.Next(0, 30));
        writer.String(value, huffman: random.Next(2) == 0);
        if (kind == 2)
        {
            model.Add(name, value);
        }

        return (name, value);
    }

    private static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    private static string RandomText(Random random, int length) =>
        string.Create(length, random, (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = r.Next(4) == 0 ? (char)r.Next(0x100) : (char)r.Next('a', 'z' + 1);
            }
        });

    /// <summary>Writes HPACK primitives into a growing buffer.</summary>
    internal sealed class BlockWriter
    {
        private readonly List<byte> _bytes = [];

        public void Integer(int value, int prefixBits, byte pattern)
        {
            var buffer = new byte[8];
            var position = 0;
            Assert.True(HpackEncoder.TryWriteInteger(value, prefixBits, pattern, buffer, ref position));
            _bytes.AddRange(buffer[..position]);
        }

        public void String(string text, bool huffman)
        {
            var raw = Encoding.Latin1.GetBytes(text);
            var bytes = huffman ? HuffmanTestEncoder.Encode(raw) : raw;
            Integer(bytes.Length, 7, huffman ? (byte)0x80 : (byte)0x00);
            _bytes.AddRange(bytes);
        }

        public byte[] ToArray() => [.. _bytes];
    }

    /// <summary>The dynamic table as RFC 7541 section 4 describes it, with none of the decoder's storage tricks.</summary>
    private sealed class ModelTable(int maxSize)
    {
        public List<(string Name, string Value)> Entries { get; } = [];

        public int Size { get; private set; }

        public void SetMaxSize(int size)
        {
            maxSize = size;
            EvictUntil(size);
        }

        public void Add(string name, string value)
        {
            var size = name.Length + value.Length + 32;
            if (size > maxSize)
            {
                EvictUntil(0);
                return;
            }

            EvictUntil(maxSize - size);
            Entries.Insert(0, (name, value));
            Size += size;
        }

        private void EvictUntil(int size)
        {
            while (Size > size)
            {
                var (name, value) = Entries[^1];
                Entries.RemoveAt(Entries.Count - 1);
                Size -= name.Length + value.Length + 32;
            }
        }
    }
}
