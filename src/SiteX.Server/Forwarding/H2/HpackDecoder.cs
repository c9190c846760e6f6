namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// One connection's HPACK decoder (RFC 7541): turns each header block into fields handed to an
/// <see cref="IHpackHeaderHandler"/>, keeping the dynamic table the peer's encoder fills. Not thread-safe; the
/// connection's read loop owns it.
/// </summary>
/// <remarks>
/// <para>Every malformed or over-limit input throws <see cref="HpackException"/>, a COMPRESSION_ERROR: the table may then
/// disagree with the peer's, so the connection must be closed and the decoder dropped.</para>
/// <para>Nothing is allocated per field: raw strings are handed on as spans of the block, table entries as spans of the
/// table's storage, and Huffman-coded strings are decoded into a scratch buffer the decoder keeps, which grows to the
/// longest strings seen and never past <c>maxHeaderListSize</c> (plus one stashed name).</para>
/// </remarks>
internal sealed class HpackDecoder
{
    private readonly HpackDynamicTable _table;
    private readonly int _maxHeaderListSize;
    private int _maxDynamicTableSize;
    private bool _sizeUpdateRequired;
    private byte[] _scratch = new byte[256];

    public HpackDecoder(int maxDynamicTableSize = 4096, int maxHeaderListSize = 64 * 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDynamicTableSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxHeaderListSize);
        _maxDynamicTableSize = maxDynamicTableSize;
        _maxHeaderListSize = maxHeaderListSize;
        _table = new HpackDynamicTable(maxDynamicTableSize);
    }

    /// <summary>
    /// The SETTINGS_HEADER_TABLE_SIZE this side advertised: the largest size a dynamic table size update may set. Set it
    /// when the peer acknowledges the SETTINGS frame that carries the new value. Lowering it below the table's current
    /// limit means the next header block must start with a size update to at most the new value (RFC 7541 section 4.2).
    /// </summary>
    public int MaxDynamicTableSize
    {
        get => _maxDynamicTableSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _maxDynamicTableSize = value;
            _sizeUpdateRequired = value < _table.MaxSize;
        }
    }

    /// <summary>The dynamic table, for tests and diagnostics.</summary>
    internal HpackDynamicTable DynamicTable => _table;

    /// <summary>
    /// Decodes one complete header block: a HEADERS payload and any CONTINUATION payloads, concatenated, with padding
    /// and priority removed. Fields go to <paramref name="handler"/> in order as they are decoded, so on an exception
    /// the handler may already have some of them.
    /// </summary>
    /// <exception cref="HpackException">The block is malformed, its header list is larger than
    /// <c>maxHeaderListSize</c> (name + value + 32 per field), or it has a size update above
    /// <see cref="MaxDynamicTableSize"/> or after a field.</exception>
    public void Decode(ReadOnlySpan<byte> block, IHpackHeaderHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var position = 0;
        var fieldSeen = false;
        var listSize = 0L;
        while (position < block.Length)
        {
            var first = block[position];
            if ((first & 0xE0) == 0x20)
            {
                ReadSizeUpdate(block, ref position, fieldSeen);
                continue;
            }

            if (_sizeUpdateRequired)
            {
                throw new HpackException($"HPACK: the block does not start with the dynamic table size update that the lowered limit ({_maxDynamicTableSize}) requires");
            }

            fieldSeen = true;
            ReadOnlySpan<byte> name;
            ReadOnlySpan<byte> value;
            if ((first & 0x80) != 0)
            {
                // 6.1 Indexed Header Field: 1xxxxxxx.
                GetEntry(ReadInteger(block, ref position, 7), out name, out value);
            }
            else
            {
                // 6.2.1 with incremental indexing: 01xxxxxx; 6.2.2 without indexing: 0000xxxx; 6.2.3 never indexed: 0001xxxx.
                var indexing = (first & 0x40) != 0;
                var nameIndex = ReadInteger(block, ref position, indexing ? 6 : 4);
                var scratchUsed = 0;
                if (nameIndex == 0)
                {
                    name = ReadString(block, ref position, ref scratchUsed, listSize);
                }
                else
                {
                    GetEntry(nameIndex, out name, out _);
                    if (indexing && nameIndex > HpackStaticTable.Count)
                    {
                        // The insertion below may evict or move this entry's bytes: copy the name out first.
                        name = Stash(name, ref scratchUsed);
                    }
                }

                value = ReadString(block, ref position, ref scratchUsed, listSize + name.Length);
                if (indexing)
                {
                    _table.Add(name, value);
                }
            }

            listSize += name.Length + value.Length + HpackDynamicTable.EntryOverhead;
            if (listSize > _maxHeaderListSize)
            {
                throw HeaderListTooLarge();
            }

            handler.OnHeader(name, value);
        }
    }

    /// <summary>Reads an integer with an <paramref name="prefixBits"/>-bit prefix (RFC 7541 section 5.1) starting at
    /// <paramref name="position"/>, which must be inside the block; rejects values above <see cref="int.MaxValue"/>.</summary>
    internal static int ReadInteger(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        var max = (1 << prefixBits) - 1;
        var value = block[position++] & max;
        if (value < max)
        {
            return value;
        }

        long result = value;
        for (var shift = 0; ; shift += 7)
        {
            if (position >= block.Length)
            {
                throw new HpackException("HPACK: the block ends inside an integer");
            }

            var next = block[position++];
            result += (long)(next & 0x7F) << shift;
            if (result > int.MaxValue || (shift >= 28 && (next & 0x80) != 0))
            {
                throw new HpackException("HPACK: an integer is larger than 2^31 - 1");
            }

            if ((next & 0x80) == 0)
            {
                return (int)result;
            }
        }
    }

    private void ReadSizeUpdate(ReadOnlySpan<byte> block, ref int position, bool fieldSeen)
    {
        // 6.3 Dynamic Table Size Update: 001xxxxx, only before the block's first field (4.2).
        if (fieldSeen)
        {
            throw new HpackException("HPACK: a dynamic table size update after a header field (allowed only at the start of a block)");
        }

        var size = ReadInteger(block, ref position, 5);
        if (size > _maxDynamicTableSize)
        {
            throw new HpackException($"HPACK: a dynamic table size update to {size} is above the advertised limit {_maxDynamicTableSize}");
        }

        _table.SetMaxSize(size);
        _sizeUpdateRequired = false;
    }

    private void GetEntry(int index, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        if (index == 0)
        {
            throw new HpackException("HPACK: index 0 is not a table entry");
        }

        if (index <= HpackStaticTable.Count)
        {
            name = HpackStaticTable.Name(index);
            value = HpackStaticTable.Value(index);
            return;
        }

        if (index - HpackStaticTable.Count > _table.Count)
        {
            throw new HpackException($"HPACK: index {index} is past the end of the table ({HpackStaticTable.Count} static + {_table.Count} dynamic entries)");
        }

        _table.Get(index - HpackStaticTable.Count, out name, out value);
    }

    /// <summary>Reads a string literal (RFC 7541 section 5.2): a span of the block when raw, of the scratch buffer when
    /// Huffman coded. <paramref name="listSize"/> is the header list's size before this string, to bound its decoding.</summary>
    private ReadOnlySpan<byte> ReadString(ReadOnlySpan<byte> block, scoped ref int position, scoped ref int scratchUsed, long listSize)
    {
        if (position >= block.Length)
        {
            throw new HpackException("HPACK: the block ends before a string literal");
        }

        var huffman = (block[position] & 0x80) != 0;
        var length = ReadInteger(block, ref position, 7);
        if (length > block.Length - position)
        {
            throw new HpackException($"HPACK: a string literal of {length} bytes is past the end of the block ({block.Length - position} bytes left)");
        }

        var encoded = block.Slice(position, length);
        position += length;
        if (!huffman)
        {
            return encoded;
        }

        return DecodeHuffman(encoded, ref scratchUsed, listSize);
    }

    /// <summary>Decodes a Huffman-coded string into the scratch buffer after its first <paramref name="scratchUsed"/>
    /// bytes. The room reserved is the most the string can decode to (8/5 of its bytes: the shortest code has 5 bits),
    /// but never more than what is left of the header list's budget, so a small block cannot make the buffer grow past
    /// <c>maxHeaderListSize</c>.</summary>
    private ReadOnlySpan<byte> DecodeHuffman(ReadOnlySpan<byte> encoded, scoped ref int scratchUsed, long listSize)
    {
        var budget = Math.Max(0, _maxHeaderListSize - listSize - HpackDynamicTable.EntryOverhead);
        var room = (int)Math.Min(encoded.Length * 8L / 5, budget);
        EnsureScratch(scratchUsed, room);
        var written = HuffmanDecoder.Decode(encoded, _scratch.AsSpan(scratchUsed, room));
        if (written < 0)
        {
            throw HeaderListTooLarge();
        }

        var decoded = _scratch.AsSpan(scratchUsed, written);
        scratchUsed += written;
        return decoded;
    }

    /// <summary>Copies <paramref name="bytes"/> into the scratch buffer after its first <paramref name="scratchUsed"/>
    /// bytes, growing it if needed.</summary>
    private ReadOnlySpan<byte> Stash(ReadOnlySpan<byte> bytes, scoped ref int scratchUsed)
    {
        EnsureScratch(scratchUsed, bytes.Length);
        bytes.CopyTo(_scratch.AsSpan(scratchUsed));
        var stashed = _scratch.AsSpan(scratchUsed, bytes.Length);
        scratchUsed += bytes.Length;
        return stashed;
    }

    /// <summary>Makes room for <paramref name="more"/> bytes after the first <paramref name="used"/>, keeping those.
    /// Spans of the old buffer stay valid (they keep it alive) for the field being decoded.</summary>
    private void EnsureScratch(int used, int more)
    {
        var needed = (long)used + more;
        if (needed <= _scratch.Length)
        {
            return;
        }

        var scratch = new byte[Math.Max(needed, Math.Min(2L * _scratch.Length, Array.MaxLength))];
        _scratch.AsSpan(0, used).CopyTo(scratch);
        _scratch = scratch;
    }

    private HpackException HeaderListTooLarge() =>
        new($"HPACK: the header list is larger than {_maxHeaderListSize} bytes (name + value + 32 per field)");
}
