using System.Buffers;

namespace SiteX.Server.Internal;

/// <summary>
/// Arrays for whole messages (<see cref="MessageBytes"/>) and for large response chunks: pooled while the gateway is
/// busy, so that a stream of 1 MiB pushes does not allocate (and fault in) a new large array for each, and let go of
/// at once when it goes quiet (<see cref="Release"/>, called by the idle collection), which the shared
/// <see cref="ArrayPool{T}"/> does only for arrays unused for a minute.
/// </summary>
internal static class MessageBufferPool
{
    /// <summary>Arrays longer than this are not pooled (allocated for each use, left to the GC).</summary>
    public const int MaxPooledLength = 16 * 1024 * 1024;

    /// <summary>Arrays kept per size (each a power of two): enough for a burst of concurrent calls.</summary>
    public const int ArraysPerSize = 16;

    private static ArrayPool<byte> s_pool = Create();

    /// <summary>The current pool. An array may be returned to a later pool than the one it came from: every pool has the
    /// same sizes.</summary>
    public static ArrayPool<byte> Pool => Volatile.Read(ref s_pool);

    /// <summary>Drops every pooled array: the pool starts empty, and the next collection frees what the old one held
    /// (arrays still rented from it come back to the new one).</summary>
    public static void Release() => Volatile.Write(ref s_pool, Create());

    private static ArrayPool<byte> Create() => ArrayPool<byte>.Create(MaxPooledLength, ArraysPerSize);
}
