using System.Collections.Frozen;

namespace SiteX.Server.Routing;

/// <summary>
/// One immutable, pre-indexed version of the route table. Built once per accepted edit and swapped atomically
/// by <see cref="RouteTableManager"/>; the hot path reads it without locks and looks up without allocating.
/// </summary>
/// <remarks>
/// Lookup follows OSX (<c>DefaultFateRouterServiceImpl.route</c>): the party's entry, else the <c>default</c>
/// party (an exchange); within it the service's entry, else the party's <c>default</c> service. A rule limited to a
/// source party (flat format <c>src_site</c>) wins over an unlimited one for callers from that party.
/// </remarks>
public sealed class RouteTable
{
    private readonly FrozenDictionary<string, PartyRoutes> _parties;
    private readonly FrozenDictionary<string, ServiceBinding> _grpcBindings;
    private readonly FrozenDictionary<string, ServiceBinding>.AlternateLookup<ReadOnlySpan<char>> _grpcBindingsBySpan;
    private readonly ServiceBinding[] _pathBindings;
    private readonly PartyRoutes? _defaultParty;

    private RouteTable(RouteTableConfig config, IReadOnlyList<string> selfParties, long version, string source)
    {
        Config = config;
        Version = version;
        Source = source;
        SelfParties = selfParties.ToFrozenSet(StringComparer.Ordinal);
        SelfPartyList = [.. selfParties];

        var parties = new Dictionary<string, Dictionary<string, ServiceRoutesBuilder>>(StringComparer.Ordinal);
        foreach (var rule in config.Rules)
        {
            if (!parties.TryGetValue(rule.DstParty, out var services))
            {
                parties[rule.DstParty] = services = new(StringComparer.Ordinal);
            }

            if (!services.TryGetValue(rule.Service, out var builder))
            {
                services[rule.Service] = builder = new ServiceRoutesBuilder();
            }

            var group = new RouteGroup(rule.DstParty, rule.Service, rule.SrcParty, rule.Endpoints, rule.Path,
                RouteGroup.LeadsToPeerGateway(rule.DstParty, rule.Service, SelfParties));
            if (rule.SrcParty is null)
            {
                builder.Any = group;
            }
            else
            {
                builder.BySource[rule.SrcParty] = group;
            }
        }

        _parties = parties.ToFrozenDictionary(
            p => p.Key,
            p => new PartyRoutes(p.Key, p.Value.ToFrozenDictionary(s => s.Key, s => s.Value.Build(), StringComparer.Ordinal)),
            StringComparer.Ordinal);
        _defaultParty = _parties.GetValueOrDefault(RouteTableParser.DefaultKey);

        _grpcBindings = config.Bindings
            .Where(b => b.GrpcService is not null)
            .GroupBy(b => b.GrpcService!, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => new ServiceBinding(g.First().Party, g.First().Service, g.First().Path), StringComparer.Ordinal);
        _grpcBindingsBySpan = _grpcBindings.GetAlternateLookup<ReadOnlySpan<char>>();
        _pathBindings = [.. config.Bindings
            .Where(b => b.PathPrefix is not null)
            .OrderByDescending(b => b.PathPrefix!.Length)
            .Select(b => new ServiceBinding(b.Party, b.Service, b.Path) { PathPrefix = b.PathPrefix! })];
        PartyCount = _parties.Count;
        RuleCount = config.Rules.Count;
        Permissions = PermissionTable.Create(config.Permissions);
    }

    /// <summary>The document this table was built from.</summary>
    public RouteTableConfig Config { get; }

    /// <summary>Increases by one on every accepted edit.</summary>
    public long Version { get; }

    /// <summary>Where the table came from: a file path, "embedded defaults", "admin API".</summary>
    public string Source { get; }

    public FrozenSet<string> SelfParties { get; }

    /// <summary>Self parties in document order; the first one names this gateway in errors and logs.</summary>
    public IReadOnlyList<string> SelfPartyList { get; }

    public int PartyCount { get; }

    /// <summary>This gateway's name in messages to callers and in logs: its first self party.</summary>
    public string GatewayName => SelfPartyList.Count > 0 ? SelfPartyList[0] : "?";

    public int RuleCount { get; }

    /// <summary>The table's permission rules, resolved for the hot path (every call is allowed without a
    /// <c>permission</c> section).</summary>
    public PermissionTable Permissions { get; }

    /// <summary>Builds a table; <paramref name="configuredSelfParties"/> apply when the document has no <c>self_party</c>.</summary>
    public static RouteTable Create(RouteTableConfig config, IReadOnlyList<string> configuredSelfParties, long version, string source)
    {
        var self = config.SelfParties is { Count: > 0 } fromTable ? fromTable : configuredSelfParties;
        return new RouteTable(config, self, version, source);
    }

    public bool IsSelf(string party) => SelfParties.Contains(party);

    /// <summary>
    /// Finds the route for <paramref name="service"/> at <paramref name="party"/>, as seen by a caller from
    /// <paramref name="sourceParty"/> (may be null). Allocation-free.
    /// </summary>
    public bool TryLookup(string party, string service, string? sourceParty, out RouteMatch match)
    {
        if (!_parties.TryGetValue(party, out var routes))
        {
            routes = _defaultParty;
            if (routes is null)
            {
                match = default;
                return false;
            }
        }

        if (routes.TryGetService(service, sourceParty, out var group) ||
            routes.TryGetService(RouteTableParser.DefaultKey, sourceParty, out group))
        {
            match = new RouteMatch(group, ReferenceEquals(routes, _defaultParty) && party != RouteTableParser.DefaultKey);
            return true;
        }

        match = default;
        return false;
    }

    /// <summary>Finds the (party, service) a gRPC method path such as <c>/pkg.Service/Method</c> is bound to.</summary>
    public bool TryGetGrpcBinding(ReadOnlySpan<char> path, out ServiceBinding binding)
    {
        binding = null!;
        if (_grpcBindings.Count == 0 || path.Length < 2 || path[0] != '/')
        {
            return false;
        }

        var rest = path[1..];
        var slash = rest.IndexOf('/');
        if (slash <= 0)
        {
            return false;
        }

        return _grpcBindingsBySpan.TryGetValue(rest[..slash], out binding!);
    }

    /// <summary>Finds the longest path-prefix binding matching <paramref name="path"/>.</summary>
    public bool TryGetPathBinding(ReadOnlySpan<char> path, out ServiceBinding binding)
    {
        foreach (var candidate in _pathBindings)
        {
            if (path.StartsWith(candidate.PathPrefix, StringComparison.Ordinal))
            {
                binding = candidate;
                return true;
            }
        }

        binding = null!;
        return false;
    }

    /// <summary>All parties named in the table, for the admin API and summaries.</summary>
    public IEnumerable<string> Parties => _parties.Keys;

    private sealed class ServiceRoutesBuilder
    {
        public RouteGroup? Any { get; set; }

        public Dictionary<string, RouteGroup> BySource { get; } = new(StringComparer.Ordinal);

        public ServiceRoutes Build() => new(Any, BySource.Count == 0 ? null : BySource.ToFrozenDictionary(StringComparer.Ordinal));
    }
}

/// <summary>The routes of one party, by service.</summary>
internal sealed class PartyRoutes(string party, FrozenDictionary<string, ServiceRoutes> services)
{
    public string Party { get; } = party;

    public bool TryGetService(string service, string? sourceParty, out RouteGroup group)
    {
        if (services.TryGetValue(service, out var routes))
        {
            if (sourceParty is not null && routes.BySource is not null && routes.BySource.TryGetValue(sourceParty, out group!))
            {
                return true;
            }

            if (routes.Any is not null)
            {
                group = routes.Any;
                return true;
            }
        }

        group = null!;
        return false;
    }
}

internal sealed record ServiceRoutes(RouteGroup? Any, FrozenDictionary<string, RouteGroup>? BySource);

/// <summary>A (party, service) target that a gRPC service name or path prefix is bound to.</summary>
public sealed record ServiceBinding(string Party, string Service, string Path)
{
    public string PathPrefix { get; init; } = "";
}

/// <summary>The result of a lookup: the endpoint group, and whether the exchange (<c>default</c> party) answered.</summary>
public readonly record struct RouteMatch(RouteGroup Group, bool ViaDefaultParty);
