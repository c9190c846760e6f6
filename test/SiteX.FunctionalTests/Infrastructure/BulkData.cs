using System.Buffers;
using System.Net;
using System.Security.Cryptography;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// Deterministic bulk content of any length, generated on the fly and never held whole in memory: the byte at
/// offset <c>p</c> is a fixed pseudo-random pattern at <c>p mod 65521</c>. The period is prime, so a copy loop that
/// lost, repeated or reordered a buffer of any power-of-two size would change the bytes at the far side.
/// </summary>
internal static class BulkData
{
    public const int ChunkBytes = 128 * 1024;
    private const int Period = 65_521;
    private static readonly byte[] s_pattern = MakePattern();

    /// <summary>Fills <paramref name="destination"/> with the content at <paramref name="offset"/>.</summary>
    public static void Fill(Span<byte> destination, long offset)
    {
        var start = (int)(offset % Period);
        while (!destination.IsEmpty)
        {
            var count = Math.Min(destination.Length, Period - start);
            s_pattern.AsSpan(start, count).CopyTo(destination);
            destination = destination[count..];
            start = 0;
        }
    }

    /// <summary>Writes <paramref name="length"/> bytes of the content to <paramref name="stream"/> in chunks, adding them
    /// to <paramref name="hash"/> if given.</summary>
    public static async Task WriteAsync(Stream stream, long length, IncrementalHash? hash, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            for (long offset = 0; offset < length;)
            {
                var count = (int)Math.Min(ChunkBytes, length - offset);
                Fill(buffer.AsSpan(0, count), offset);
                hash?.AppendData(buffer, 0, count);
                await stream.WriteAsync(buffer.AsMemory(0, count), cancellationToken);
                offset += count;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads <paramref name="stream"/> to its end, checking every byte against the content; returns the byte
    /// count, or throws at the first byte that differs.</summary>
    public static async Task<long> VerifyAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        var expected = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            long offset = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(0, ChunkBytes), cancellationToken)) > 0)
            {
                Fill(expected.AsSpan(0, read), offset);
                var mismatch = buffer.AsSpan(0, read).CommonPrefixLength(expected.AsSpan(0, read));
                if (mismatch < read)
                {
                    throw new InvalidDataException($"the content differs at byte {offset + mismatch}");
                }

                offset += read;
            }

            return offset;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<byte>.Shared.Return(expected);
        }
    }

    /// <summary>SHA-256 (lower-case hex) of the first <paramref name="length"/> bytes of the content.</summary>
    public static string Sha256(long length)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[ChunkBytes];
        for (long offset = 0; offset < length;)
        {
            var count = (int)Math.Min(ChunkBytes, length - offset);
            Fill(buffer.AsSpan(0, count), offset);
            hash.AppendData(buffer, 0, count);
            offset += count;
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static byte[] MakePattern()
    {
        var pattern = new byte[Period];
        new Random(20261128).NextBytes(pattern);
        return pattern;
    }
}

/// <summary>A request body of <see cref="BulkData"/>, generated while it is sent: with a Content-Length, or chunked
/// when <c>declareLength</c> is false. <see cref="Sha256"/> is the hash of what was sent.</summary>
internal sealed class BulkContent(long bodyLength, bool declareLength) : HttpContent
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public string? Sha256 { get; private set; }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await BulkData.WriteAsync(stream, bodyLength, _hash, cancellationToken);
        Sha256 = Convert.ToHexStringLower(_hash.GetHashAndReset());
    }

    protected override bool TryComputeLength(out long length)
    {
        length = declareLength ? bodyLength : 0;
        return declareLength;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
