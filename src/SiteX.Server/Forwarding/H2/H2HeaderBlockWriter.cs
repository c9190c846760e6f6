using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.Extensions.Primitives;

namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// Encodes a request's header block with <see cref="HpackEncoder"/> into a pooled buffer: pseudo headers first, then
/// the forwarded headers (<see cref="ForwardedHeaders.WriteRequest"/>) with lower-case names, several values of one
/// name joined as HttpClient joins them. <see cref="Dispose"/> returns the buffer.
/// </summary>
internal struct H2HeaderBlockWriter : IForwardedHeaderSink, IDisposable
{
    private const int StaticMethodPost = 3;
    private const int StaticSchemeHttp = 6;
    private const int StaticSchemeHttps = 7;

    // Kestrel hands known headers over with their canonical spelling ("Content-Type"): lower-cased once.
    private static readonly ConcurrentDictionary<string, string> LowerNames = new(StringComparer.Ordinal);

    private byte[] _buffer;

    public H2HeaderBlockWriter()
    {
        _buffer = ArrayPool<byte>.Shared.Rent(2048);
        Length = 0;
    }

    public int Length { get; private set; }

    public readonly ReadOnlyMemory<byte> Block => _buffer.AsMemory(0, Length);

    public void WritePseudoHeaders(string method, bool https, string authority, string path)
    {
        if (method == "POST")
        {
            Length += HpackEncoder.WriteIndexed(StaticMethodPost, Reserve(8));
        }
        else
        {
            Add(":method", method);
        }

        Length += HpackEncoder.WriteIndexed(https ? StaticSchemeHttps : StaticSchemeHttp, Reserve(8));
        Add(":authority", authority);
        Add(":path", path);
    }

    public void Add(string name, StringValues values)
    {
        var value = values.Count switch
        {
            0 => "",
            1 => values[0] ?? "",
            _ => string.Join(name.Equals("cookie", StringComparison.OrdinalIgnoreCase) ? "; " : ", ", values.ToArray()),
        };
        Add(name, value);
    }

    private void Add(string name, string value)
    {
        if (name.AsSpan().ContainsAnyInRange('A', 'Z'))
        {
            name = LowerNames.TryGetValue(name, out var lower) ? lower
                : LowerNames.Count < 1024 ? LowerNames.GetOrAdd(name, static n => n.ToLowerInvariant())
                : name.ToLowerInvariant();
        }

        var written = HpackEncoder.WriteHeader(name, value, Reserve(HpackEncoder.MaxEncodedLength(name.Length, value.Length)));
        if (written < 0)
        {
            throw new InvalidOperationException($"header {name} could not be encoded");
        }

        Length += written;
    }

    private Span<byte> Reserve(int size)
    {
        if (_buffer.Length - Length < size)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Length + size));
            _buffer.AsSpan(0, Length).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = grown;
        }

        return _buffer.AsSpan(Length);
    }

    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }
}
