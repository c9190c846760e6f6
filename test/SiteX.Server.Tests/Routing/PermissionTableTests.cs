using SiteX.Server.Routing;

namespace SiteX.Server.Tests.Routing;

/// <summary>The evaluator: wildcards, specificity, deny at a tie, FATE-Serving's deny-first lists, unknown callers.</summary>
public sealed class PermissionTableTests
{
    private static PermissionRuleConfig Rule(string fromParty, string fromService, string toParty, string toService, PermissionAction action, string path,
        PermissionRuleKind kind = PermissionRuleKind.Rule) => new()
    {
        From = new PermissionSubject(fromParty, fromService),
        To = new PermissionSubject(toParty, toService),
        Action = action,
        Kind = kind,
        Path = path,
    };

    private static PermissionTable Table(PermissionAction @default, params PermissionRuleConfig[] rules) =>
        PermissionTable.Create(new PermissionConfig { Default = @default, DefaultPath = "permission.default", Rules = rules });

    [Fact]
    public void Evaluate_NoRules_DefaultDecidesAndIsNamed()
    {
        var deny = Table(PermissionAction.Deny);
        var allow = Table(PermissionAction.Allow);

        Assert.Equal(new PermissionDecision(false, "permission.default"), deny.Evaluate("9999", null, "10000", "fateflow"));
        Assert.Equal(new PermissionDecision(true, "permission.default"), allow.Evaluate("9999", null, "10000", "fateflow"));
        Assert.True(allow.AllowsEverything);
        Assert.False(deny.AllowsEverything);
    }

    [Fact]
    public void Evaluate_Wildcards_MatchAnyValue()
    {
        var table = Table(PermissionAction.Deny, Rule("9999", "*", "10000", "*", PermissionAction.Allow, "r0"));

        Assert.True(table.Evaluate("9999", "guest", "10000", "fateflow").Allowed);
        Assert.True(table.Evaluate("9999", null, "10000", "queue").Allowed);
        Assert.False(table.Evaluate("9998", null, "10000", "fateflow").Allowed);
        Assert.False(table.Evaluate("9999", null, "10001", "fateflow").Allowed);
    }

    [Fact]
    public void Evaluate_ExactValues_AreCaseSensitive()
    {
        var table = Table(PermissionAction.Deny, Rule("*", "*", "siteB", "web", PermissionAction.Allow, "r0"));

        Assert.True(table.Evaluate("a", null, "siteB", "web").Allowed);
        Assert.False(table.Evaluate("a", null, "siteb", "web").Allowed);
        Assert.False(table.Evaluate("a", null, "siteB", "Web").Allowed);
    }

    [Fact]
    public void Evaluate_MoreSpecificRuleWins_WhicheverWayRound()
    {
        var table = Table(PermissionAction.Allow,
            Rule("*", "*", "10000", "*", PermissionAction.Deny, "deny-all-to-10000"),
            Rule("9999", "*", "10000", "fateflow", PermissionAction.Allow, "allow-9999-fateflow"),
            Rule("9999", "guest", "10000", "fateflow", PermissionAction.Deny, "deny-guest"));

        Assert.Equal(new PermissionDecision(false, "deny-all-to-10000"), table.Evaluate("8888", null, "10000", "fateflow"));
        Assert.Equal(new PermissionDecision(true, "allow-9999-fateflow"), table.Evaluate("9999", "host", "10000", "fateflow"));
        Assert.Equal(new PermissionDecision(false, "deny-guest"), table.Evaluate("9999", "guest", "10000", "fateflow"));
        Assert.Equal(new PermissionDecision(false, "deny-all-to-10000"), table.Evaluate("9999", null, "10000", "serving"));
    }

    [Fact]
    public void Evaluate_EqualSpecificity_DenyWins_InEitherDocumentOrder()
    {
        var allowFirst = Table(PermissionAction.Allow,
            Rule("*", "*", "10000", "*", PermissionAction.Allow, "allow-to-10000"),
            Rule("9999", "*", "*", "*", PermissionAction.Deny, "deny-from-9999"));
        var denyFirst = Table(PermissionAction.Allow,
            Rule("9999", "*", "*", "*", PermissionAction.Deny, "deny-from-9999"),
            Rule("*", "*", "10000", "*", PermissionAction.Allow, "allow-to-10000"));

        Assert.Equal(new PermissionDecision(false, "deny-from-9999"), allowFirst.Evaluate("9999", null, "10000", "x"));
        Assert.Equal(new PermissionDecision(false, "deny-from-9999"), denyFirst.Evaluate("9999", null, "10000", "x"));
        Assert.Equal(new PermissionDecision(true, "allow-to-10000"), allowFirst.Evaluate("8888", null, "10000", "x"));
    }

    [Fact]
    public void Evaluate_FateServingLists_DenyBeatsAMoreSpecificAllow()
    {
        var table = Table(PermissionAction.Allow,
            Rule("9999", "*", "10000", "serving", PermissionAction.Allow, "permission.allow[0]", PermissionRuleKind.FateServing),
            Rule("9999", "*", "*", "*", PermissionAction.Deny, "permission.deny[0]", PermissionRuleKind.FateServing));

        Assert.Equal(new PermissionDecision(false, "permission.deny[0]"), table.Evaluate("9999", "guest", "10000", "serving"));
        Assert.Equal(new PermissionDecision(true, "permission.default"), table.Evaluate("8888", "guest", "10000", "serving"));
    }

    [Fact]
    public void Evaluate_UnknownCaller_MatchesOnlyWildcards()
    {
        var table = Table(PermissionAction.Deny,
            Rule("9999", "*", "*", "*", PermissionAction.Allow, "from-9999"),
            Rule("*", "fateflow", "*", "*", PermissionAction.Allow, "from-fateflow"));

        Assert.False(table.Evaluate(null, null, "10000", "x").Allowed);
        Assert.False(table.Evaluate(null, "fateflow-x", "10000", "x").Allowed);
        Assert.True(table.Evaluate(null, "fateflow", "10000", "x").Allowed);
        Assert.True(table.Evaluate("9999", null, "10000", "x").Allowed);
    }

    [Fact]
    public void Evaluate_AllocatesNothing()
    {
        var table = Table(PermissionAction.Deny,
            Rule("*", "*", "10000", "*", PermissionAction.Deny, "r0"),
            Rule("9999", "*", "10000", "fateflow", PermissionAction.Allow, "r1"),
            Rule("8888", "guest", "10001", "serving", PermissionAction.Allow, "r2"));
        table.Evaluate("9999", "guest", "10000", "fateflow"); // warm up

        var before = GC.GetAllocatedBytesForCurrentThread();
        var allowed = 0;
        for (var i = 0; i < 1000; i++)
        {
            allowed += table.Evaluate("9999", "guest", "10000", "fateflow").Allowed ? 1 : 0;
            allowed += table.Evaluate("7777", null, "10002", "queue").Allowed ? 1 : 0;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1000, allowed);
    }
}
