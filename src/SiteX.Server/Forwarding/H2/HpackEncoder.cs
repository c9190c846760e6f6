using System.Diagnostics;
using System.Text;

namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// A stateless HPACK encoder. Every field is a literal header field without indexing (RFC 7541 section 6.2.2), its name
/// a static-table index when the static table has that name, else a literal; strings are written raw, never Huffman
/// coded. It never inserts into the dynamic table, so there is no state to keep in step with the peer's decoder and one
/// encoder serves every stream of every connection.
/// </summary>
/// <remarks>
/// Names and values are octets on the wire. The string overloads write each char as one byte (Latin-1) and throw
/// <see cref="ArgumentException"/> for a char above U+00FF, which has no one-byte form: replacing it would forward a
/// value other than the one received. Validating names and values (lower case, no CR, LF or NUL) is the caller's job;
/// upper case in a name is only asserted in Debug builds. When the destination is too short the methods return -1 and
/// what they wrote into it is undefined.
/// </remarks>
internal static class HpackEncoder
{
    /// <summary>Writes <paramref name="name"/>: <paramref name="value"/> as a literal without indexing. Returns the
    /// bytes written, or -1 if <paramref name="destination"/> is too small.</summary>
    /// <exception cref="ArgumentException">The name or value has a char above U+00FF.</exception>
    public static int WriteHeader(string name, string value, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        Debug.Assert(!name.AsSpan().ContainsAnyInRange('A', 'Z'), "HTTP/2 header names are lower case");
        ThrowIfNotLatin1(name, nameof(name));
        ThrowIfNotLatin1(value, nameof(value));

        var nameIndex = HpackStaticTable.IndexOfName(name);
        var position = WriteNamePart(nameIndex, name.Length, destination);
        if (position < 0)
        {
            return -1;
        }

        if (nameIndex == 0)
        {
            Encoding.Latin1.GetBytes(name, destination[(position - name.Length)..]);
        }

        if (!TryWriteStringLength(value.Length, destination, ref position))
        {
            return -1;
        }

        Encoding.Latin1.GetBytes(value, destination[position..]);
        return position + value.Length;
    }

    /// <summary>Writes <paramref name="name"/>: <paramref name="value"/> as a literal without indexing. Returns the
    /// bytes written, or -1 if <paramref name="destination"/> is too small.</summary>
    public static int WriteHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, Span<byte> destination)
    {
        Debug.Assert(!name.ContainsAnyInRange((byte)'A', (byte)'Z'), "HTTP/2 header names are lower case");
        var nameIndex = HpackStaticTable.IndexOfName(name);
        var position = WriteNamePart(nameIndex, name.Length, destination);
        if (position < 0)
        {
            return -1;
        }

        if (nameIndex == 0)
        {
            name.CopyTo(destination[(position - name.Length)..]);
        }

        if (!TryWriteStringLength(value.Length, destination, ref position))
        {
            return -1;
        }

        value.CopyTo(destination[position..]);
        return position + value.Length;
    }

    /// <summary>Writes an indexed header field (RFC 7541 section 6.1) for static-table entry
    /// <paramref name="staticIndex"/>, such as 3 for <c>:method: POST</c>, 6 for <c>:scheme: http</c> and 7 for
    /// <c>:scheme: https</c>. Returns the bytes written (1), or -1 if <paramref name="destination"/> is empty.</summary>
    public static int WriteIndexed(int staticIndex, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(staticIndex, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(staticIndex, HpackStaticTable.Count);
        if (destination.IsEmpty)
        {
            return -1;
        }

        destination[0] = (byte)(0x80 | staticIndex);
        return 1;
    }

    /// <summary>
    /// Writes a dynamic table size update (RFC 7541 section 6.3), for the start of a header block. This encoder never
    /// inserts into the dynamic table, but after the peer changes SETTINGS_HEADER_TABLE_SIZE (4096 until it does) RFC
    /// 7541 section 4.2 requires the next header block to start with an update to at most the new value, and some
    /// decoders (nghttp2) enforce it. An update to 0 is always within the peer's limit. Returns the bytes written, or -1
    /// if <paramref name="destination"/> is too small.
    /// </summary>
    public static int WriteDynamicTableSizeUpdate(int maxSize, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSize);
        var position = 0;
        return TryWriteInteger(maxSize, 5, 0x20, destination, ref position) ? position : -1;
    }

    /// <summary>The most bytes <see cref="WriteHeader(string, string, Span{byte})"/> writes for a name and value of
    /// these lengths, whether or not the name is in the static table.</summary>
    public static int MaxEncodedLength(int nameLength, int valueLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nameLength);
        ArgumentOutOfRangeException.ThrowIfNegative(valueLength);
        var length = 1L + IntegerLength(nameLength, 7) + nameLength + IntegerLength(valueLength, 7) + valueLength;
        return length <= int.MaxValue ? (int)length : throw new ArgumentOutOfRangeException(nameof(valueLength));
    }

    /// <summary>The bytes of an integer with an <paramref name="prefixBits"/>-bit prefix (RFC 7541 section 5.1).</summary>
    internal static int IntegerLength(int value, int prefixBits)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            return 1;
        }

        var length = 2;
        for (var rest = (uint)(value - max); rest >= 0x80; rest >>= 7)
        {
            length++;
        }

        return length;
    }

    /// <summary>Writes <paramref name="value"/> with an <paramref name="prefixBits"/>-bit prefix, the first byte's other
    /// bits taken from <paramref name="pattern"/>. Returns false if it does not fit.</summary>
    internal static bool TryWriteInteger(int value, int prefixBits, byte pattern, Span<byte> destination, ref int position)
    {
        Debug.Assert(value >= 0);
        if (destination.Length - position < IntegerLength(value, prefixBits))
        {
            return false;
        }

        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            destination[position++] = (byte)(pattern | value);
            return true;
        }

        destination[position++] = (byte)(pattern | max);
        var rest = (uint)(value - max);
        while (rest >= 0x80)
        {
            destination[position++] = (byte)(rest | 0x80);
            rest >>= 7;
        }

        destination[position++] = (byte)rest;
        return true;
    }

    /// <summary>Writes the representation's first byte and the name: a 4-bit-prefix static index, or a zero index and
    /// the name's length, leaving room for its <paramref name="nameLength"/> bytes. Returns the position after the name,
    /// or -1 if it does not fit.</summary>
    private static int WriteNamePart(int nameIndex, int nameLength, Span<byte> destination)
    {
        var position = 0;
        if (nameIndex > 0)
        {
            return TryWriteInteger(nameIndex, 4, 0x00, destination, ref position) ? position : -1;
        }

        if (destination.IsEmpty)
        {
            return -1;
        }

        destination[position++] = 0x00;
        if (!TryWriteStringLength(nameLength, destination, ref position) || destination.Length - position < nameLength)
        {
            return -1;
        }

        return position + nameLength;
    }

    /// <summary>Writes a raw (H = 0) string literal's length and checks that its bytes fit after it.</summary>
    private static bool TryWriteStringLength(int length, Span<byte> destination, ref int position) =>
        TryWriteInteger(length, 7, 0x00, destination, ref position) && destination.Length - position >= length;

    private static void ThrowIfNotLatin1(string s, string paramName)
    {
        if (s.AsSpan().ContainsAnyInRange((char)0x100, char.MaxValue))
        {
            throw new ArgumentException("HPACK: a header name or value has a char above U+00FF, which has no one-byte form.", paramName);
        }
    }
}
