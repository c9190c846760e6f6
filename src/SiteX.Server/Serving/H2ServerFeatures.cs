using System.Collections;
using Microsoft.AspNetCore.Http.Features;

namespace SiteX.Server.Serving;

/// <summary>
/// The features of one <see cref="H2ServerStream"/> (<c>stream</c>): the stream itself for the request, response, body, trailers,
/// reset, lifetime, identifier and body-size features it implements, what middleware sets on top of them, and then the
/// connection's features (TLS, peer identity, endpoints). Kestrel keeps its own features in fields; a
/// <see cref="FeatureCollection"/> filled with ten entries per request cost a dictionary of about 1.2 KB per call.
/// </summary>
internal sealed class H2ServerFeatures(object stream, IFeatureCollection connection) : IFeatureCollection
{
    private static readonly Type[] s_own =
    [
        typeof(IHttpRequestFeature),
        typeof(IHttpRequestBodyDetectionFeature),
        typeof(IRequestBodyPipeFeature),
        typeof(IHttpResponseFeature),
        typeof(IHttpResponseBodyFeature),
        typeof(IHttpResponseTrailersFeature),
        typeof(IHttpResetFeature),
        typeof(IHttpRequestLifetimeFeature),
        typeof(IHttpRequestIdentifierFeature),
        typeof(IHttpMaxRequestBodySizeFeature),
    ];

    // What was set on this collection, in order. A null value removes what was set, as in a FeatureCollection: the
    // connection's feature shows again, and one of the stream's own is gone (it was set in the same collection).
    private List<KeyValuePair<Type, object?>>? _set;
    private int _revision;

    public bool IsReadOnly => false;

    public int Revision => _revision + connection.Revision;

    public object? this[Type key]
    {
        get
        {
            if (_set is { } set)
            {
                foreach (var (type, value) in set)
                {
                    if (type == key)
                    {
                        return value ?? (IsOwn(key) ? null : connection[key]);
                    }
                }
            }

            return IsOwn(key) ? stream : connection[key];
        }

        set
        {
            _revision++;
            var set = _set ??= [];
            for (var i = 0; i < set.Count; i++)
            {
                if (set[i].Key == key)
                {
                    set[i] = new(key, value);
                    return;
                }
            }

            set.Add(new(key, value));
        }
    }

    public TFeature? Get<TFeature>() => (TFeature?)this[typeof(TFeature)];

    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator()
    {
        var seen = new HashSet<Type>();
        if (_set is { } set)
        {
            foreach (var (type, value) in set)
            {
                if (value is not null)
                {
                    if (seen.Add(type))
                    {
                        yield return new(type, value);
                    }
                }
                else if (IsOwn(type))
                {
                    seen.Add(type); // removed: neither the stream's nor the connection's shows
                }
            }
        }

        foreach (var type in s_own)
        {
            if (seen.Add(type))
            {
                yield return new(type, stream);
            }
        }

        foreach (var pair in connection)
        {
            if (seen.Add(pair.Key))
            {
                yield return pair;
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static bool IsOwn(Type key)
    {
        foreach (var type in s_own)
        {
            if (type == key)
            {
                return true;
            }
        }

        return false;
    }
}
