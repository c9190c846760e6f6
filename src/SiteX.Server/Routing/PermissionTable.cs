namespace SiteX.Server.Routing;

/// <summary>The verdict on one call: allowed or not, and the JSON path of the rule (or default) that decided.</summary>
public readonly record struct PermissionDecision(bool Allowed, string RulePath);

/// <summary>
/// The resolved <c>permission</c> section of one route table version: its rules ranked once, so that a call is
/// judged by one scan that allocates nothing.
/// </summary>
/// <remarks>
/// <list type="number">
/// <item>A rule matches a call when each of its four fields (from party, from service, to party, to service) is
/// <c>*</c> or equals the call's value (ordinal, case-sensitive). A caller whose party or service is unknown matches
/// only <c>*</c> in that field.</item>
/// <item>Among the matching rules of the <c>rules</c> list, the most specific wins: the one with the most fields that
/// are not <c>*</c>. At equal specificity a deny wins over an allow.</item>
/// <item>Rules of FATE-Serving's <c>allow</c>/<c>deny</c> lists keep FATE-Serving's order: any matching deny wins over
/// any matching allow (and among each, the most specific names the decision).</item>
/// <item>When no rule matches, the default decides.</item>
/// </list>
/// </remarks>
public sealed class PermissionTable
{
    private readonly Rule[] _rules;
    private readonly bool _defaultAllows;
    private readonly string _defaultPath;

    private PermissionTable(PermissionConfig config)
    {
        Config = config;
        _defaultAllows = config.Default == PermissionAction.Allow;
        _defaultPath = config.DefaultPath;
        _rules = [.. config.Rules
            .Select((rule, index) => new Rule(rule, index))
            .OrderByDescending(r => r.Rank)
            .ThenBy(r => r.Index)];
        AllowsEverything = _defaultAllows && _rules.Length == 0;
    }

    public static PermissionTable AllowAll { get; } = new(PermissionConfig.AllowAll);

    public PermissionConfig Config { get; }

    /// <summary>True when no rule exists and the default allows: every call passes without a scan.</summary>
    public bool AllowsEverything { get; }

    public int RuleCount => _rules.Length;

    public static PermissionTable Create(PermissionConfig? config) =>
        config is null || ReferenceEquals(config, PermissionConfig.AllowAll) ? AllowAll : new PermissionTable(config);

    /// <summary>Judges a call from (<paramref name="fromParty"/>, <paramref name="fromService"/>) to
    /// (<paramref name="toParty"/>, <paramref name="toService"/>); null means unknown. Allocation-free.</summary>
    public PermissionDecision Evaluate(string? fromParty, string? fromService, string toParty, string toService)
    {
        foreach (var rule in _rules)
        {
            if (Matches(rule.FromParty, fromParty) && Matches(rule.ToParty, toParty)
                && Matches(rule.FromService, fromService) && Matches(rule.ToService, toService))
            {
                return new PermissionDecision(!rule.Deny, rule.Path);
            }
        }

        return new PermissionDecision(_defaultAllows, _defaultPath);
    }

    private static bool Matches(string? pattern, string? value) =>
        pattern is null || (value is not null && string.Equals(pattern, value, StringComparison.Ordinal));

    private sealed class Rule
    {
        public Rule(PermissionRuleConfig config, int index)
        {
            FromParty = Pattern(config.From.Party);
            FromService = Pattern(config.From.Service);
            ToParty = Pattern(config.To.Party);
            ToService = Pattern(config.To.Service);
            Deny = config.Action == PermissionAction.Deny;
            Path = config.Path;
            Index = index;
            var specificity = (FromParty is null ? 0 : 1) + (FromService is null ? 0 : 1) + (ToParty is null ? 0 : 1) + (ToService is null ? 0 : 1);
            var fateServingDeny = config.Kind == PermissionRuleKind.FateServing && Deny ? 100 : 0;
            Rank = fateServingDeny + (specificity * 2) + (Deny ? 1 : 0);
        }

        public string? FromParty { get; }
        public string? FromService { get; }
        public string? ToParty { get; }
        public string? ToService { get; }
        public bool Deny { get; }
        public string Path { get; }
        public int Index { get; }
        public int Rank { get; }

        private static string? Pattern(string value) => value == PermissionSubject.Any ? null : value;
    }
}
