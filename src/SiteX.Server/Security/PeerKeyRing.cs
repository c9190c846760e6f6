using System.Collections.Frozen;
using SiteX.Server.Routing;

namespace SiteX.Server.Security;

/// <summary>One shared secret between this site and a peer, as configured (<c>Tokens:Keys</c>).</summary>
public sealed record PeerKeyConfig
{
    /// <summary>The peer party this key is shared with.</summary>
    public string Peer { get; init; } = "";

    /// <summary>The key's name, sent in each token so the verifier picks the right key during a rotation.</summary>
    public string Id { get; init; } = "";

    /// <summary>Standard base64 of at least 32 random bytes.</summary>
    public string Secret { get; init; } = "";

    /// <summary>The key signs and verifies from this time on (none: always).</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>The key signs and verifies until this time (none: forever).</summary>
    public DateTimeOffset? NotAfter { get; init; }

    /// <summary>Never print a secret.</summary>
    public override string ToString() => $"key {Id} for party {Peer}";
}

/// <summary>A resolved key: its bytes and validity.</summary>
internal sealed class PeerKey(string peer, string id, byte[] secret, DateTimeOffset notBefore, DateTimeOffset notAfter)
{
    public string Peer { get; } = peer;

    public string Id { get; } = id;

    public byte[] Secret { get; } = secret;

    public DateTimeOffset NotBefore { get; } = notBefore;

    public DateTimeOffset NotAfter { get; } = notAfter;

    public bool IsValidAt(DateTimeOffset time) => time >= NotBefore && time < NotAfter;
}

/// <summary>
/// The per-peer keys for signed request tokens, with overlapping rotation: several keys of one peer may be valid at
/// once; requests are signed with the newest valid key (latest <c>NotBefore</c>) and verified with whichever key the
/// token names, if it is valid now. Rotation without downtime: add the new key on both sites with a <c>NotBefore</c>
/// in the future, let the old one expire later.
/// </summary>
internal sealed class PeerKeyRing
{
    public const int MinimumSecretBytes = 32;

    private readonly FrozenDictionary<string, PeerKey[]> _byPeer;

    private PeerKeyRing(FrozenDictionary<string, PeerKey[]> byPeer)
    {
        _byPeer = byPeer;
    }

    public static PeerKeyRing Empty { get; } = new(FrozenDictionary<string, PeerKey[]>.Empty);

    public bool IsEmpty => _byPeer.Count == 0;

    /// <summary>Builds a ring, collecting every problem (with the entry's place, by default <c>Tokens:Keys[i]</c>, or as
    /// <paramref name="locate"/> names it) instead of stopping at the first.</summary>
    public static PeerKeyRing Create(IReadOnlyList<PeerKeyConfig> keys, out IReadOnlyList<string> errors, Func<int, string>? locate = null)
    {
        var problems = new List<string>();
        var byPeer = new Dictionary<string, List<PeerKey>>(StringComparer.Ordinal);
        for (var i = 0; i < keys.Count; i++)
        {
            var key = keys[i];
            var where = locate?.Invoke(i) ?? $"Tokens:Keys[{i}]";
            if (!RouteTableParser.IsValidId(key.Peer))
            {
                problems.Add($"{where}.Peer: \"{RouteTableParser.Truncate(key.Peer)}\" is not a party id (1-128 letters, digits, '.', '_' or '-')");
                continue;
            }

            if (!RouteTableParser.IsValidId(key.Id) || key.Id.Contains(':', StringComparison.Ordinal))
            {
                problems.Add($"{where}.Id: \"{RouteTableParser.Truncate(key.Id)}\" is not a key name (1-128 letters, digits, '.', '_' or '-')");
                continue;
            }

            byte[] secret;
            try
            {
                secret = Convert.FromBase64String(key.Secret);
            }
            catch (FormatException)
            {
                problems.Add($"{where}.Secret: not standard base64 (create one with: head -c 32 /dev/urandom | base64)");
                continue;
            }

            if (secret.Length < MinimumSecretBytes)
            {
                problems.Add($"{where}.Secret: {secret.Length} bytes; a key needs at least {MinimumSecretBytes} random bytes (head -c 32 /dev/urandom | base64)");
                continue;
            }

            var notBefore = key.NotBefore ?? DateTimeOffset.MinValue;
            var notAfter = key.NotAfter ?? DateTimeOffset.MaxValue;
            if (notAfter <= notBefore)
            {
                problems.Add($"{where}: NotAfter must be later than NotBefore");
                continue;
            }

            if (!byPeer.TryGetValue(key.Peer, out var list))
            {
                byPeer[key.Peer] = list = [];
            }

            if (list.Exists(k => k.Id == key.Id))
            {
                problems.Add($"{where}.Id: party {key.Peer} already has a key named \"{key.Id}\"; give each key of a peer its own name");
                continue;
            }

            list.Add(new PeerKey(key.Peer, key.Id, secret, notBefore, notAfter));
        }

        errors = problems;
        return new PeerKeyRing(byPeer.ToFrozenDictionary(p => p.Key, p => p.Value.OrderByDescending(k => k.NotBefore).ToArray(), StringComparer.Ordinal));
    }

    /// <summary>The key to sign a request to <paramref name="peer"/> with at <paramref name="now"/>: the newest valid one.</summary>
    public PeerKey? ForSigning(string peer, DateTimeOffset now)
    {
        if (!_byPeer.TryGetValue(peer, out var keys))
        {
            return null;
        }

        foreach (var key in keys)
        {
            if (key.IsValidAt(now))
            {
                return key;
            }
        }

        return null;
    }

    /// <summary>The key named <paramref name="id"/> of <paramref name="peer"/>, whether or not it is valid now.</summary>
    public PeerKey? Find(string peer, string id)
    {
        if (!_byPeer.TryGetValue(peer, out var keys))
        {
            return null;
        }

        foreach (var key in keys)
        {
            if (key.Id == id)
            {
                return key;
            }
        }

        return null;
    }

    public bool Knows(string peer) => _byPeer.ContainsKey(peer);

    /// <summary>How many keys the ring holds.</summary>
    public int Count => _byPeer.Values.Sum(k => k.Length);

    /// <summary>The peers with keys, for logs.</summary>
    public IEnumerable<string> Peers => _byPeer.Keys.Order(StringComparer.Ordinal);
}
