using System.Text;
using SiteX.Server.Forwarding.H2;
using static SiteX.Server.Tests.Forwarding.H2.Hpack;

namespace SiteX.Server.Tests.Forwarding.H2;

/// <summary>The decoder against the examples of RFC 7541 Appendix C (hex copied from the RFC), and its limits.</summary>
public sealed class HpackDecoderTests
{
    [Fact]
    public void Decode_C21_LiteralWithIndexing_AddsToTable()
    {
        var decoder = new HpackDecoder();

        var headers = Decode(decoder, Hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));

        Assert.Equal([("custom-key", "custom-header")], headers);
        Assert.Equal([("custom-key", "custom-header")], Table(decoder));
        Assert.Equal(55, decoder.DynamicTable.Size);
    }

    [Fact]
    public void Decode_C22_LiteralWithoutIndexing_LeavesTableEmpty()
    {
        var decoder = new HpackDecoder();

        var headers = Decode(decoder, Hex("040c 2f73 616d 706c 652f 7061 7468"));

        Assert.Equal([(":path", "/sample/path")], headers);
        Assert.Empty(Table(decoder));
    }

    [Fact]
    public void Decode_C23_LiteralNeverIndexed_LeavesTableEmpty()
    {
        var decoder = new HpackDecoder();

        var headers = Decode(decoder, Hex("1008 7061 7373 776f 7264 0673 6563 7265 74"));

        Assert.Equal([("password", "secret")], headers);
        Assert.Empty(Table(decoder));
    }

    [Fact]
    public void Decode_C24_Indexed_GivesStaticEntry()
    {
        var decoder = new HpackDecoder();

        var headers = Decode(decoder, Hex("82"));

        Assert.Equal([(":method", "GET")], headers);
        Assert.Equal(0, decoder.DynamicTable.Size);
    }

    [Fact]
    public void Decode_C3_RequestsWithoutHuffman_TableAfterEach()
    {
        var decoder = new HpackDecoder();

        // C.3.1
        var first = Decode(decoder, Hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"));
        Assert.Equal([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")], first);
        Assert.Equal([(":authority", "www.example.com")], Table(decoder));
        Assert.Equal(57, decoder.DynamicTable.Size);

        // C.3.2
        var second = Decode(decoder, Hex("8286 84be 5808 6e6f 2d63 6163 6865"));
        Assert.Equal([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"), ("cache-control", "no-cache")], second);
        Assert.Equal([("cache-control", "no-cache"), (":authority", "www.example.com")], Table(decoder));
        Assert.Equal(110, decoder.DynamicTable.Size);

        // C.3.3
        var third = Decode(decoder, Hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"));
        Assert.Equal([(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")], third);
        Assert.Equal([("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")], Table(decoder));
        Assert.Equal(164, decoder.DynamicTable.Size);
    }

    [Fact]
    public void Decode_C5_ResponsesWithoutHuffman_EvictAtTableSize256()
    {
        var decoder = new HpackDecoder(maxDynamicTableSize: 256);

        // C.5.1
        var first = Decode(decoder, Hex("""
            4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
            2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d
            """));
        Assert.Equal(C5First, first);
        Assert.Equal([("location", "https://www.example.com"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("cache-control", "private"), (":status", "302")], Table(decoder));
        Assert.Equal(222, decoder.DynamicTable.Size);

        // C.5.2: ":status: 302" is evicted to make room for ":status: 307".
        var second = Decode(decoder, Hex("4803 3330 37c1 c0bf"));
        Assert.Equal(C5Second, second);
        Assert.Equal([(":status", "307"), ("location", "https://www.example.com"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("cache-control", "private")], Table(decoder));
        Assert.Equal(222, decoder.DynamicTable.Size);

        // C.5.3: several evictions within one block.
        var third = Decode(decoder, Hex("""
            88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
            54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
            5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31
            """));
        Assert.Equal(C5Third, third);
        Assert.Equal([("set-cookie", C5Cookie), ("content-encoding", "gzip"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT")], Table(decoder));
        Assert.Equal(215, decoder.DynamicTable.Size);
    }

    [Fact]
    public void Decode_C4_RequestsWithHuffman_TableAfterEach()
    {
        var decoder = new HpackDecoder();

        // C.4.1
        var first = Decode(decoder, Hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"));
        Assert.Equal([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")], first);
        Assert.Equal([(":authority", "www.example.com")], Table(decoder));
        Assert.Equal(57, decoder.DynamicTable.Size);

        // C.4.2
        var second = Decode(decoder, Hex("8286 84be 5886 a8eb 1064 9cbf"));
        Assert.Equal([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"), ("cache-control", "no-cache")], second);
        Assert.Equal([("cache-control", "no-cache"), (":authority", "www.example.com")], Table(decoder));
        Assert.Equal(110, decoder.DynamicTable.Size);

        // C.4.3: a Huffman-coded name and value in one field.
        var third = Decode(decoder, Hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"));
        Assert.Equal([(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")], third);
        Assert.Equal([("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")], Table(decoder));
        Assert.Equal(164, decoder.DynamicTable.Size);
    }

    [Fact]
    public void Decode_C6_ResponsesWithHuffman_EvictAtTableSize256()
    {
        var decoder = new HpackDecoder(maxDynamicTableSize: 256);

        // C.6.1
        var first = Decode(decoder, Hex("""
            4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
            2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3
            """));
        Assert.Equal(C5First, first);
        Assert.Equal([("location", "https://www.example.com"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("cache-control", "private"), (":status", "302")], Table(decoder));
        Assert.Equal(222, decoder.DynamicTable.Size);

        // C.6.2
        var second = Decode(decoder, Hex("4883 640e ffc1 c0bf"));
        Assert.Equal(C5Second, second);
        Assert.Equal([(":status", "307"), ("location", "https://www.example.com"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("cache-control", "private")], Table(decoder));
        Assert.Equal(222, decoder.DynamicTable.Size);

        // C.6.3
        var third = Decode(decoder, Hex("""
            88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
            77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
            9587 3160 65c0 03ed 4ee5 b106 3d50 07
            """));
        Assert.Equal(C5Third, third);
        Assert.Equal([("set-cookie", C5Cookie), ("content-encoding", "gzip"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT")], Table(decoder));
        Assert.Equal(215, decoder.DynamicTable.Size);
    }

    internal const string C5Cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

    internal static readonly (string, string)[] C5First =
        [(":status", "302"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")];

    internal static readonly (string, string)[] C5Second =
        [(":status", "307"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")];

    internal static readonly (string, string)[] C5Third =
    [
        (":status", "200"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"), ("location", "https://www.example.com"),
        ("content-encoding", "gzip"), ("set-cookie", C5Cookie),
    ];

    [Theory]
    [InlineData("ff", "ends inside an integer")]
    [InlineData("0f", "ends inside an integer")]
    [InlineData("ffff ffff ff0f", "larger than 2^31 - 1")]
    [InlineData("ff80 8080 8080 00", "larger than 2^31 - 1")]
    [InlineData("80", "index 0 is not a table entry")]
    [InlineData("be", "index 62 is past the end of the table (61 static + 0 dynamic entries)")]
    [InlineData("7f00 00", "index 63 is past the end of the table (61 static + 0 dynamic entries)")]
    [InlineData("0005 6162", "a string literal of 5 bytes is past the end of the block (2 bytes left)")]
    [InlineData("04", "ends before a string literal")]
    [InlineData("0001 61", "ends before a string literal")]
    [InlineData("047f ff0f 61", "a string literal of 2174 bytes is past the end of the block (1 bytes left)")]
    [InlineData("3fe2 1f", "size update to 4097 is above the advertised limit 4096")]
    [InlineData("8220", "size update after a header field")]
    [InlineData("203f e11f 823f e11f", "size update after a header field")]
    [InlineData("0481 ff", "Huffman padding of 8 bits is longer than 7 bits")]
    [InlineData("0481 18", "Huffman padding is not all ones")]
    [InlineData("0484 ffff ffff", "contains the EOS symbol")]
    [InlineData("0081 ff01 61", "Huffman padding of 8 bits is longer than 7 bits")]
    public void Decode_Malformed_ThrowsNamingTheProblem(string hex, string problem)
    {
        var decoder = new HpackDecoder();

        var error = Assert.Throws<HpackException>(() => Decode(decoder, Hex(hex)));

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("HPACK: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_IndexPastDynamicTable_NamesTheTableSize()
    {
        var decoder = new HpackDecoder();
        Decode(decoder, Hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));

        var error = Assert.Throws<HpackException>(() => Decode(decoder, Hex("bf")));

        Assert.Equal("HPACK: index 63 is past the end of the table (61 static + 1 dynamic entries)", error.Message);
    }

    [Fact]
    public void Decode_HeaderListTooLarge_ThrowsWithoutTheValue()
    {
        var decoder = new HpackDecoder(maxHeaderListSize: 100);
        var block = new byte[128];
        var length = HpackEncoder.WriteHeader("x-secret", new string('s', 61), block);

        // 8 + 61 + 32 = 101 bytes.
        var error = Assert.Throws<HpackException>(() => decoder.Decode(block.AsSpan(0, length), new RecordingHeaderHandler()));

        Assert.Equal("HPACK: the header list is larger than 100 bytes (name + value + 32 per field)", error.Message);
        Assert.DoesNotContain("sss", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_HuffmanValueLargerThanTheList_ThrowsBeforeDecodingIt()
    {
        // 40 '0's are 25 Huffman bytes; with ":path" the field would be 5 + 40 + 32 = 77 bytes.
        var decoder = new HpackDecoder(maxHeaderListSize: 64);
        var value = HuffmanTestEncoder.Encode(Encoding.ASCII.GetBytes(new string('0', 40)));
        var block = Hex("04").Append((byte)(0x80 | value.Length)).Concat(value).ToArray();

        var error = Assert.Throws<HpackException>(() => Decode(decoder, block));

        Assert.Equal("HPACK: the header list is larger than 64 bytes (name + value + 32 per field)", error.Message);
    }

    [Fact]
    public void Decode_HeaderListAtTheLimit_Succeeds()
    {
        var decoder = new HpackDecoder(maxHeaderListSize: 101);
        var block = new byte[128];
        var length = HpackEncoder.WriteHeader("x-secret", new string('s', 61), block);

        var headers = Decode(decoder, block[..length]);

        Assert.Single(headers);
    }

    [Fact]
    public void Decode_SizeUpdates_EvictAndAllowSeveralAtTheStart()
    {
        var decoder = new HpackDecoder();
        Decode(decoder, Hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"));
        Assert.Equal(1, decoder.DynamicTable.Count);

        // Size 0 empties the table, then size 4096 allows insertions again, before the first field.
        var headers = Decode(decoder, Hex("203f e11f 82"));

        Assert.Equal([(":method", "GET")], headers);
        Assert.Equal(0, decoder.DynamicTable.Count);
        Assert.Equal(4096, decoder.DynamicTable.MaxSize);
    }

    [Fact]
    public void Decode_SizeUpdateToTheLimit_IsAccepted()
    {
        var decoder = new HpackDecoder(maxDynamicTableSize: 256);

        Decode(decoder, Hex("3fe1 01"));

        Assert.Equal(256, decoder.DynamicTable.MaxSize);
    }

    [Fact]
    public void Decode_SizeUpdateAboveInitialLimit_GrowsTheTable()
    {
        // Arrange: the table starts at 4096 with entries in it; the advertised limit is raised to 16384.
        var decoder = new HpackDecoder();
        Decode(decoder, Hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"));
        decoder.MaxDynamicTableSize = 16384;
        var writer = new HpackModelTests.BlockWriter();
        writer.Integer(16384, 5, 0x20);
        writer.Integer(0, 6, 0x40);
        writer.String("x-big", huffman: false);
        writer.String(new string('b', 10000), huffman: true);

        // Act
        var headers = Decode(decoder, writer.ToArray());

        // Assert: the new entry and the old one both fit, and index 63 still finds the old one.
        Assert.Equal([("x-big", new string('b', 10000))], headers);
        Assert.Equal(16384, decoder.DynamicTable.MaxSize);
        Assert.Equal([("x-big", new string('b', 10000)), (":authority", "www.example.com")], Table(decoder));
        Assert.Equal([(":authority", "www.example.com")], Decode(decoder, Hex("bf")));
    }

    [Fact]
    public void Decode_AfterLimitLowered_RequiresSizeUpdateFirst()
    {
        var decoder = new HpackDecoder();
        decoder.MaxDynamicTableSize = 100;

        var error = Assert.Throws<HpackException>(() => Decode(decoder, Hex("82")));
        Assert.Contains("does not start with the dynamic table size update", error.Message, StringComparison.Ordinal);

        var fresh = new HpackDecoder();
        fresh.MaxDynamicTableSize = 100;
        Assert.Equal([(":method", "GET")], Decode(fresh, Hex("3f45 82")));
        Assert.Equal(100, fresh.DynamicTable.MaxSize);
        Assert.Equal([(":method", "GET")], Decode(fresh, Hex("82")));
    }

    [Fact]
    public void Decode_EntryLargerThanTable_EmptiesTableAndStillEmitsField()
    {
        var decoder = new HpackDecoder(maxDynamicTableSize: 64);
        Decode(decoder, Hex("4001 6101 62"));
        Assert.Equal([("a", "b")], Table(decoder));

        // "a" + 40 bytes + 32 = 73 > 64.
        var block = Hex("4001 6128" + string.Concat(Enumerable.Repeat("63", 40)));
        var headers = Decode(decoder, block);

        Assert.Equal([("a", new string('c', 40))], headers);
        Assert.Empty(Table(decoder));
    }

    [Fact]
    public void Decode_IndexedNameFromDynamicTableWithIndexing_SurvivesEvictionOfThatEntry()
    {
        // Table of 80 holds one entry; inserting a field whose name is that entry's evicts it first.
        var decoder = new HpackDecoder(maxDynamicTableSize: 80);
        Decode(decoder, Hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));

        var headers = Decode(decoder, Hex("7e 03 6e65 77"));

        Assert.Equal([("custom-key", "new")], headers);
        Assert.Equal([("custom-key", "new")], Table(decoder));
    }

    [Fact]
    public void Decode_EmptyBlock_GivesNoFields()
    {
        var decoder = new HpackDecoder();

        Assert.Empty(Decode(decoder, []));
    }

    [Fact]
    public void Decode_MultiByteLengths_ReadAcrossContinuationBytes()
    {
        var decoder = new HpackDecoder();
        var value = new string('v', 1000);
        var block = new byte[HpackEncoder.MaxEncodedLength(300, value.Length)];
        var name = "x-" + new string('n', 298);
        var length = HpackEncoder.WriteHeader(name, value, block);

        var headers = Decode(decoder, block[..length]);

        Assert.Equal([(name, value)], headers);
    }
}
