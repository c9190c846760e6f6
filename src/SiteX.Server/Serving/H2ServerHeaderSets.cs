using Microsoft.AspNetCore.Http;

namespace SiteX.Server.Serving;

/// <summary>The request headers, response headers and trailers of one request on SiteX's HTTP/2 server.</summary>
internal sealed class H2ServerHeaderSet
{
    public HeaderDictionary Request { get; } = new();

    public HeaderDictionary Response { get; } = new();

    public HeaderDictionary Trailers { get; } = new();

    public void Clear()
    {
        Request.Clear();
        Response.Clear();
        Trailers.Clear();
    }
}

/// <summary>
/// Header dictionaries of finished requests kept for the next ones of the same connection, with the room they grew to,
/// so that a call does not allocate and grow three dictionaries. A few sets at most: a connection idle after a burst
/// keeps a few KiB, not one set per request it ever had in flight.
/// </summary>
/// <remarks>Thread-safe: the read loop takes sets as requests arrive, the requests give them back as they finish.</remarks>
internal sealed class H2ServerHeaderSets
{
    private const int Kept = 8;

    private readonly H2ServerHeaderSet?[] _sets = new H2ServerHeaderSet?[Kept];

    /// <summary>A cleared set, kept or new.</summary>
    public H2ServerHeaderSet Rent()
    {
        for (var i = 0; i < _sets.Length; i++)
        {
            if (Volatile.Read(ref _sets[i]) is not null && Interlocked.Exchange(ref _sets[i], null) is { } set)
            {
                return set;
            }
        }

        return new H2ServerHeaderSet();
    }

    /// <summary>Keeps <paramref name="set"/> for another request, once nothing of its request uses it any more.</summary>
    public void Return(H2ServerHeaderSet set)
    {
        set.Clear();
        for (var i = 0; i < _sets.Length; i++)
        {
            if (Volatile.Read(ref _sets[i]) is null && Interlocked.CompareExchange(ref _sets[i], set, null) is null)
            {
                return;
            }
        }
    }
}
