using System.Collections.Frozen;
using System.Text;

namespace SiteX.Server.Forwarding.H2;

/// <summary>The HPACK static table: the 61 fields of RFC 7541 Appendix A, index 1 to 61.</summary>
internal static class HpackStaticTable
{
    /// <summary>The number of entries; dynamic table entries are numbered from <c>Count + 1</c>.</summary>
    public const int Count = 61;

    // RFC 7541 Appendix A, Table 1, in order: entry i is at position i - 1.
    private static readonly (byte[] Name, byte[] Value)[] s_entries =
    [
        (":authority"u8.ToArray(), []),
        (":method"u8.ToArray(), "GET"u8.ToArray()),
        (":method"u8.ToArray(), "POST"u8.ToArray()),
        (":path"u8.ToArray(), "/"u8.ToArray()),
        (":path"u8.ToArray(), "/index.html"u8.ToArray()),
        (":scheme"u8.ToArray(), "http"u8.ToArray()),
        (":scheme"u8.ToArray(), "https"u8.ToArray()),
        (":status"u8.ToArray(), "200"u8.ToArray()),
        (":status"u8.ToArray(), "204"u8.ToArray()),
        (":status"u8.ToArray(), "206"u8.ToArray()),
        (":status"u8.ToArray(), "304"u8.ToArray()),
        (":status"u8.ToArray(), "400"u8.ToArray()),
        (":status"u8.ToArray(), "404"u8.ToArray()),
        (":status"u8.ToArray(), "500"u8.ToArray()),
        ("accept-charset"u8.ToArray(), []),
        ("accept-encoding"u8.ToArray(), "gzip, deflate"u8.ToArray()),
        ("accept-language"u8.ToArray(), []),
        ("accept-ranges"u8.ToArray(), []),
        ("accept"u8.ToArray(), []),
        ("access-control-allow-origin"u8.ToArray(), []),
        ("age"u8.ToArray(), []),
        ("allow"u8.ToArray(), []),
        ("authorization"u8.ToArray(), []),
        ("cache-control"u8.ToArray(), []),
        ("content-disposition"u8.ToArray(), []),
        ("content-encoding"u8.ToArray(), []),
        ("content-language"u8.ToArray(), []),
        ("content-length"u8.ToArray(), []),
        ("content-location"u8.ToArray(), []),
        ("content-range"u8.ToArray(), []),
        ("content-type"u8.ToArray(), []),
        ("cookie"u8.ToArray(), []),
        ("date"u8.ToArray(), []),
        ("etag"u8.ToArray(), []),
        ("expect"u8.ToArray(), []),
        ("expires"u8.ToArray(), []),
        ("from"u8.ToArray(), []),
        ("host"u8.ToArray(), []),
        ("if-match"u8.ToArray(), []),
        ("if-modified-since"u8.ToArray(), []),
        ("if-none-match"u8.ToArray(), []),
        ("if-range"u8.ToArray(), []),
        ("if-unmodified-since"u8.ToArray(), []),
        ("last-modified"u8.ToArray(), []),
        ("link"u8.ToArray(), []),
        ("location"u8.ToArray(), []),
        ("max-forwards"u8.ToArray(), []),
        ("proxy-authenticate"u8.ToArray(), []),
        ("proxy-authorization"u8.ToArray(), []),
        ("range"u8.ToArray(), []),
        ("referer"u8.ToArray(), []),
        ("refresh"u8.ToArray(), []),
        ("retry-after"u8.ToArray(), []),
        ("server"u8.ToArray(), []),
        ("set-cookie"u8.ToArray(), []),
        ("strict-transport-security"u8.ToArray(), []),
        ("transfer-encoding"u8.ToArray(), []),
        ("user-agent"u8.ToArray(), []),
        ("vary"u8.ToArray(), []),
        ("via"u8.ToArray(), []),
        ("www-authenticate"u8.ToArray(), []),
    ];

    /// <summary>Name to the lowest index with that name, for the encoder's string overload.</summary>
    private static readonly FrozenDictionary<string, int> s_nameIndex = BuildNameIndex();

    /// <summary>By name length: the lowest index of each distinct name of that length, for the byte overload.</summary>
    private static readonly int[][] s_namesByLength = BuildNamesByLength();

    /// <summary>The name of entry <paramref name="index"/> (1 to <see cref="Count"/>).</summary>
    public static ReadOnlySpan<byte> Name(int index) => s_entries[index - 1].Name;

    /// <summary>The value of entry <paramref name="index"/> (1 to <see cref="Count"/>); empty for a name-only entry.</summary>
    public static ReadOnlySpan<byte> Value(int index) => s_entries[index - 1].Value;

    /// <summary>The lowest index whose name is <paramref name="name"/>, or 0 when the table has no such name.</summary>
    public static int IndexOfName(string name) => s_nameIndex.GetValueOrDefault(name);

    /// <inheritdoc cref="IndexOfName(string)"/>
    public static int IndexOfName(ReadOnlySpan<byte> name)
    {
        if (name.Length >= s_namesByLength.Length)
        {
            return 0;
        }

        foreach (var index in s_namesByLength[name.Length])
        {
            if (name.SequenceEqual(s_entries[index - 1].Name))
            {
                return index;
            }
        }

        return 0;
    }

    private static FrozenDictionary<string, int> BuildNameIndex()
    {
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var index = Count; index >= 1; index--)
        {
            names[Encoding.ASCII.GetString(s_entries[index - 1].Name)] = index;
        }

        return names.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static int[][] BuildNamesByLength()
    {
        var longest = s_entries.Max(e => e.Name.Length);
        var byLength = new List<int>[longest + 1];
        for (var length = 0; length <= longest; length++)
        {
            byLength[length] = [];
        }

        for (var index = 1; index <= Count; index++)
        {
            var name = s_entries[index - 1].Name;
            if (IndexOfNameSlow(name) == index)
            {
                byLength[name.Length].Add(index);
            }
        }

        return [.. byLength.Select(l => l.ToArray())];
    }

    private static int IndexOfNameSlow(ReadOnlySpan<byte> name)
    {
        for (var index = 1; index <= Count; index++)
        {
            if (name.SequenceEqual(s_entries[index - 1].Name))
            {
                return index;
            }
        }

        return 0;
    }
}
