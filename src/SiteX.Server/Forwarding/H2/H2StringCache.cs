using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// The header strings of one HTTP/2 connection's recent header blocks (a server connection's requests, a relay
/// connection's responses), so that a name or value sent on every call (a caller's <c>:path</c>, <c>:authority</c>,
/// <c>user-agent</c> and session's <c>x-ptp-*</c> headers; a next hop's <c>content-type</c> and <c>grpc-status</c>) is
/// decoded once, not once per call. Used by the connection's read loop only; not thread-safe.
/// </summary>
/// <remarks>
/// A set-associative table of strings: a lookup hashes the bytes to a set of four and compares them with the strings
/// there (ASCII only; anything else is decoded every time). A miss decodes and replaces the set's oldest entry, so a
/// value that changes on every call costs what it cost without the cache plus a hash and four length checks.
/// </remarks>
internal sealed class H2StringCache
{
    /// <summary>Longer names and values are decoded every time: rarely repeated, and costly to compare.</summary>
    public const int MaxCachedLength = 256;

    private const int Ways = 4;
    private const int Sets = 64; // a power of two; 256 strings in all, a 2 KiB table

    private readonly string?[] _strings = new string?[Sets * Ways];
    private readonly byte[] _next = new byte[Sets]; // the way each set replaces next

    /// <summary>The string of <paramref name="bytes"/> (Latin-1), from the cache when it is still there.</summary>
    public string Get(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return "";
        }

        if (bytes.Length > MaxCachedLength)
        {
            return Encoding.Latin1.GetString(bytes);
        }

        var set = Set(bytes);
        var ways = _strings.AsSpan(set * Ways, Ways);
        foreach (var cached in ways)
        {
            if (cached is not null && cached.Length == bytes.Length && Ascii.Equals(bytes, cached))
            {
                return cached;
            }
        }

        var decoded = Encoding.Latin1.GetString(bytes);
        ways[_next[set]] = decoded;
        _next[set] = (byte)((_next[set] + 1) & (Ways - 1));
        return decoded;
    }

    /// <summary>The set of <paramref name="bytes"/>: a multiply-and-rotate hash of 8 bytes at a time. Not keyed: a
    /// caller that makes its own headers collide only makes its own connection decode them every time.</summary>
    private static int Set(ReadOnlySpan<byte> bytes)
    {
        var hash = (ulong)bytes.Length * 0x9E3779B97F4A7C15ul;
        while (bytes.Length >= sizeof(ulong))
        {
            hash = BitOperations.RotateLeft((hash ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes)) * 0xBF58476D1CE4E5B9ul, 31);
            bytes = bytes[sizeof(ulong)..];
        }

        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 0x94D049BB133111EBul;
        }

        hash ^= hash >> 29;
        hash *= 0xBF58476D1CE4E5B9ul;
        return (int)(hash >> 58) & (Sets - 1);
    }
}
