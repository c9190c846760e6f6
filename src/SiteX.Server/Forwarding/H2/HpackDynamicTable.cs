namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// The decoder's dynamic table (RFC 7541 section 2.3.2 and 4): entries newest first, each of size name + value + 32,
/// evicted oldest first when an insertion or a size update would exceed <see cref="MaxSize"/>.
/// </summary>
/// <remarks>
/// <para>Storage allocates nothing per entry. Name and value bytes sit back to back in one byte array, oldest first, in
/// <c>[_start, _end)</c>; the entries' offsets and lengths sit in a circular array. An insertion appends at
/// <c>_end</c>; when the array's tail is too short, the live bytes are first moved to its start. The byte array holds
/// twice <see cref="MaxSize"/> (the live bytes never exceed <see cref="MaxSize"/>, which counts 32 more per entry), so a
/// move happens at most once per <see cref="MaxSize"/> bytes inserted.</para>
/// <para>Spans returned by <see cref="Get"/> stay valid until the next <see cref="Add"/> or <see cref="SetMaxSize"/>.</para>
/// </remarks>
internal sealed class HpackDynamicTable
{
    /// <summary>The per-entry overhead of RFC 7541 section 4.1.</summary>
    public const int EntryOverhead = 32;

    private byte[] _bytes;
    private int _start;
    private int _end;
    private Entry[] _entries;
    private int _oldest;

    public HpackDynamicTable(int maxSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSize);
        _bytes = new byte[2 * maxSize];
        _entries = new Entry[maxSize / EntryOverhead + 1];
        MaxSize = maxSize;
    }

    /// <summary>The number of entries.</summary>
    public int Count { get; private set; }

    /// <summary>The table's size as RFC 7541 section 4.1 counts it: the sum of name + value + 32 over the entries.</summary>
    public int Size { get; private set; }

    /// <summary>The current limit on <see cref="Size"/>, as last set by a dynamic table size update.</summary>
    public int MaxSize { get; private set; }

    /// <summary>Entry <paramref name="index"/>, 1 for the newest to <see cref="Count"/> for the oldest.</summary>
    public void Get(int index, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        if ((uint)(index - 1) >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        var slot = _oldest + Count - index;
        if (slot >= _entries.Length)
        {
            slot -= _entries.Length;
        }

        var entry = _entries[slot];
        name = _bytes.AsSpan(entry.Offset, entry.NameLength);
        value = _bytes.AsSpan(entry.Offset + entry.NameLength, entry.ValueLength);
    }

    /// <summary>Applies a dynamic table size update: evicts until <see cref="Size"/> fits <paramref name="maxSize"/>, and
    /// grows the storage when the new limit is larger than any before.</summary>
    public void SetMaxSize(int maxSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSize);
        MaxSize = maxSize;
        EvictUntil(maxSize);
        if (maxSize / EntryOverhead + 1 > _entries.Length)
        {
            var entries = new Entry[maxSize / EntryOverhead + 1];
            for (var i = 0; i < Count; i++)
            {
                entries[i] = _entries[(_oldest + i) % _entries.Length];
            }

            _entries = entries;
            _oldest = 0;
        }

        if (2L * maxSize > _bytes.Length)
        {
            var bytes = new byte[2 * maxSize];
            Compact(bytes);
            _bytes = bytes;
        }
    }

    /// <summary>Inserts a field as the newest entry after evicting what it needs; a field larger than
    /// <see cref="MaxSize"/> empties the table and is not inserted (RFC 7541 section 4.4). <paramref name="name"/> and
    /// <paramref name="value"/> must not point into this table.</summary>
    public void Add(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        var entrySize = (long)name.Length + value.Length + EntryOverhead;
        if (entrySize > MaxSize)
        {
            EvictUntil(0);
            return;
        }

        EvictUntil(MaxSize - (int)entrySize);
        var length = name.Length + value.Length;
        if (_bytes.Length - _end < length)
        {
            Compact(_bytes);
        }

        name.CopyTo(_bytes.AsSpan(_end));
        value.CopyTo(_bytes.AsSpan(_end + name.Length));
        var slot = _oldest + Count;
        if (slot >= _entries.Length)
        {
            slot -= _entries.Length;
        }

        _entries[slot] = new Entry(_end, name.Length, value.Length);
        _end += length;
        Count++;
        Size += (int)entrySize;
    }

    private void EvictUntil(int size)
    {
        while (Size > size)
        {
            var entry = _entries[_oldest];
            var length = entry.NameLength + entry.ValueLength;
            Size -= length + EntryOverhead;
            _start += length;
            _oldest = _oldest + 1 == _entries.Length ? 0 : _oldest + 1;
            Count--;
        }

        if (Count == 0)
        {
            _start = 0;
            _end = 0;
            _oldest = 0;
        }
    }

    /// <summary>Moves the live bytes to the start of <paramref name="destination"/> (this table's array or a larger one)
    /// and shifts the entries' offsets with them.</summary>
    private void Compact(byte[] destination)
    {
        var shift = _start;
        _bytes.AsSpan(_start, _end - _start).CopyTo(destination);
        for (var i = 0; i < Count; i++)
        {
            var slot = (_oldest + i) % _entries.Length;
            _entries[slot] = _entries[slot] with { Offset = _entries[slot].Offset - shift };
        }

        _end -= shift;
        _start = 0;
    }

    private readonly record struct Entry(int Offset, int NameLength, int ValueLength);
}
