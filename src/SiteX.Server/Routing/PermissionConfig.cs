namespace SiteX.Server.Routing;

/// <summary>What a permission rule (or the default) does with a call it matches.</summary>
public enum PermissionAction
{
    Allow = 0,
    Deny = 1,
}

/// <summary>Which of the two shapes of the <c>permission</c> section a rule was written in; it decides how rules
/// that match the same call rank against each other (see <see cref="PermissionTable"/>).</summary>
public enum PermissionRuleKind
{
    /// <summary>SiteX's <c>rules</c> list: the most specific matching rule wins; deny wins a tie.</summary>
    Rule = 0,
    /// <summary>FATE-Serving's <c>allow</c>/<c>deny</c> lists: any matching deny beats any matching allow.</summary>
    FateServing = 1,
}

/// <summary>One side of a rule: a party and a service, each a name or <c>*</c> (any).</summary>
public sealed record PermissionSubject(string Party, string Service)
{
    public const string Any = "*";

    public static PermissionSubject Anyone { get; } = new(Any, Any);

    public override string ToString() => $"({Party}, {Service})";
}

/// <summary>One rule as the user wrote it: calls from <see cref="From"/> to <see cref="To"/> are allowed or denied.</summary>
public sealed record PermissionRuleConfig
{
    public required PermissionSubject From { get; init; }
    public required PermissionSubject To { get; init; }
    public required PermissionAction Action { get; init; }
    public PermissionRuleKind Kind { get; init; }
    /// <summary>JSON path of the rule in its source document (<c>permission.rules[2]</c>), named in denials.</summary>
    public string Path { get; init; } = "";
}

/// <summary>
/// The <c>permission</c> section of a route table: rules <c>(from party, from service) -&gt; (to party, to service)</c>
/// with <c>*</c> wildcards and a default for calls no rule matches. A table without the section allows every call.
/// </summary>
public sealed record PermissionConfig
{
    /// <summary>No section: every call is allowed (tables written before permissions keep working).</summary>
    public static PermissionConfig AllowAll { get; } = new() { Default = PermissionAction.Allow, DefaultPath = "" };

    public PermissionAction Default { get; init; }
    /// <summary>JSON path of the default (<c>permission.default</c> or <c>permission.default_allow</c>); empty when
    /// the table has no <c>permission</c> section.</summary>
    public string DefaultPath { get; init; } = "";
    public IReadOnlyList<PermissionRuleConfig> Rules { get; init; } = [];
}
