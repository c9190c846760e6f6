using SiteX.Server.Routing;

namespace SiteX.Server.Tests.Routing;

/// <summary>The <c>permission</c> section: SiteX's rule list, FATE-Serving's lists, and every mistake reported with its path.</summary>
public sealed class PermissionParserTests
{
    private const string Routes = "\"route_table\": { \"10000\": { \"default\": [ { \"ip\": \"10.0.0.2\", \"port\": 9370 } ] } }, \"self_party\": [\"9999\"]";

    private static PermissionConfig Parse(string permission)
    {
        var config = RouteTableParser.Parse($"{{ {Routes}, \"permission\": {permission} }}", out var errors);
        Assert.True(errors.Count == 0, string.Join("; ", errors));
        return config!.Permissions;
    }

    private static IReadOnlyList<RouteTableError> Errors(string document)
    {
        var config = RouteTableParser.Parse(document, out var errors);
        Assert.Null(config);
        return errors;
    }

    [Fact]
    public void Parse_NoPermissionSection_AllowsEverything()
    {
        var config = RouteTableParser.Parse($"{{ {Routes} }}", out var errors);

        Assert.Empty(errors);
        Assert.Same(PermissionConfig.AllowAll, config!.Permissions);
        var table = RouteTable.Create(config, ["9999"], 1, "test");
        Assert.True(table.Permissions.AllowsEverything);
    }

    [Fact]
    public void Parse_SiteXRules_ReadsFromToActionAndPaths()
    {
        var permissions = Parse("""
            {
              "default": "deny",
              "rules": [
                { "from": { "party": "9999", "service": "*" }, "to": { "party": "10000", "service": "fateflow" }, "action": "allow" },
                { "from": { "party": 8888 }, "action": "deny" }
              ]
            }
            """);

        Assert.Equal(PermissionAction.Deny, permissions.Default);
        Assert.Equal("permission.default", permissions.DefaultPath);
        Assert.Equal(2, permissions.Rules.Count);
        var first = permissions.Rules[0];
        Assert.Equal(new PermissionSubject("9999", "*"), first.From);
        Assert.Equal(new PermissionSubject("10000", "fateflow"), first.To);
        Assert.Equal(PermissionAction.Allow, first.Action);
        Assert.Equal(PermissionRuleKind.Rule, first.Kind);
        Assert.Equal("permission.rules[0]", first.Path);
        var second = permissions.Rules[1];
        Assert.Equal(new PermissionSubject("8888", "*"), second.From); // a number is a party id; an omitted service is *
        Assert.Equal(PermissionSubject.Anyone, second.To);               // an omitted side is anyone
        Assert.Equal(PermissionAction.Deny, second.Action);
    }

    [Fact]
    public void Parse_FateServingSection_ReadsCoordinatorRoleListsAndDefaultAllow()
    {
        // The shape of FATE-Serving's serving-proxy route_table.json (ConfigFileBasedServingRouter.initPermission).
        var permissions = Parse("""
            {
              "default_allow": false,
              "allow": [ { "from": { "coordinator": "9999", "role": "*" }, "to": { "coordinator": "10000", "role": "serving" } } ],
              "deny": [ { "from": { "coordinator": "9999", "role": "guest" }, "to": { "coordinator": "10000", "role": "*" } } ]
            }
            """);

        Assert.Equal(PermissionAction.Deny, permissions.Default);
        Assert.Equal("permission.default_allow", permissions.DefaultPath);
        var allow = Assert.Single(permissions.Rules, r => r.Action == PermissionAction.Allow);
        Assert.Equal(new PermissionSubject("10000", "serving"), allow.To);
        Assert.Equal(PermissionRuleKind.FateServing, allow.Kind);
        Assert.Equal("permission.allow[0]", allow.Path);
        var deny = Assert.Single(permissions.Rules, r => r.Action == PermissionAction.Deny);
        Assert.Equal(new PermissionSubject("9999", "guest"), deny.From);
        Assert.Equal("permission.deny[0]", deny.Path);
    }

    [Fact]
    public void Parse_OsxShippedSection_DefaultAllowTrue()
    {
        var permissions = Parse("{ \"default_allow\": true }");

        Assert.Equal(PermissionAction.Allow, permissions.Default);
        Assert.Empty(permissions.Rules);
    }

    [Fact]
    public void Parse_FlatFormat_TakesThePermissionSectionToo()
    {
        var config = RouteTableParser.Parse("""
            { "routes": [ { "service_name": "default", "dst_site": "b", "endpoint": "10.0.0.2:9370" } ],
              "permission": { "default": "deny", "rules": [ { "to": { "party": "b" }, "action": "allow" } ] } }
            """, out var errors);

        Assert.Empty(errors);
        Assert.Equal(PermissionAction.Deny, config!.Permissions.Default);
        Assert.Single(config.Permissions.Rules);
    }

    public static TheoryData<string, string, string> BadSections => new()
    {
        // permission section, path of the error, text in the message
        { "[]", "permission", "expected an object" },
        { "{}", "permission", "\"default\": \"allow\" or \"deny\"" },
        { "{ \"default\": \"maybe\" }", "permission.default", "\"allow\" or \"deny\"" },
        { "{ \"default\": \"deny\", \"default_allow\": true }", "permission", "keep one" },
        { "{ \"default_allow\": \"yes\" }", "permission.default_allow", "true or false" },
        { "{ \"default\": \"deny\", \"rulez\": [] }", "permission.rulez", "\"rules\"" },
        { "{ \"default\": \"deny\", \"rules\": [], \"allow\": [] }", "permission", "write the rules one way" },
        { "{ \"default\": \"deny\", \"rules\": {} }", "permission.rules", "expected an array" },
        { "{ \"default\": \"deny\", \"rules\": [ 1 ] }", "permission.rules[0]", "expected a rule object" },
        { "{ \"default\": \"deny\", \"rules\": [ { \"from\": { \"party\": \"9999\" } } ] }", "permission.rules[0].action", "required" },
        { "{ \"default\": \"deny\", \"rules\": [ { \"action\": \"permit\" } ] }", "permission.rules[0].action", "\"allow\" or \"deny\"" },
        { "{ \"default\": \"deny\", \"rules\": [ { \"action\": \"deny\", \"when\": 1 } ] }", "permission.rules[0].when", "\"from\", \"to\", \"action\"" },
        { "{ \"default\": \"deny\", \"rules\": [ { \"from\": \"9999\", \"action\": \"deny\" } ] }", "permission.rules[0].from", "expected an object" },
        { "{ \"default\": \"deny\", \"rules\": [ { \"from\": { \"partie\": \"9999\" }, \"action\": \"deny\" } ] }", "permission.rules[0].from.partie", "\"party\"" },
        { "{ \"default\": \"deny\", \"rules\": [ { \"from\": { \"party\": \"../x\" }, \"action\": \"deny\" } ] }", "permission.rules[0].from.party", "not a valid party id" },
        { "{ \"default\": \"deny\", \"rules\": [ { \"to\": { \"service\": \"fate*\" }, \"action\": \"deny\" } ] }", "permission.rules[0].to.service", "\"*\" for any" },
        { "{ \"default\": \"deny\", \"rules\": [ { \"to\": { \"party\": \"1\", \"coordinator\": \"1\" }, \"action\": \"deny\" } ] }", "permission.rules[0].to", "keep one" },
        { "{ \"default\": \"deny\", \"rules\": [ { \"to\": { \"party\": \"1\" }, \"action\": \"deny\" }, { \"to\": { \"party\": \"1\" }, \"action\": \"allow\" } ] }", "permission.rules[1]", "permission.rules[0]" },
        { "{ \"default_allow\": true, \"allow\": [ { \"from\": {}, \"to\": {}, \"action\": \"deny\" } ] }", "permission.allow[0].action", "\"from\", \"to\"" },
        { "{ \"default_allow\": true, \"deny\": [ { \"to\": { \"role\": \"a\\u0000b\" } } ] }", "permission.deny[0].to.role", "not a valid service name" },
    };

    [Theory]
    [MemberData(nameof(BadSections))]
    public void Parse_BadPermissionSection_ReportsPathAndFix(string permission, string path, string text)
    {
        var errors = Errors($"{{ {Routes}, \"permission\": {permission} }}");

        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(text, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_PluralPermissionsKey_IsAnErrorNotSilentlyIgnored()
    {
        var errors = Errors($"{{ {Routes}, \"permissions\": {{ \"default\": \"deny\" }} }}");

        var error = Assert.Single(errors);
        Assert.Equal("permissions", error.Path);
        Assert.Contains("\"permission\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SeveralMistakes_AllReportedTogether()
    {
        var errors = Errors($$"""
            { {{Routes}}, "permission": { "default": "no", "rules": [ { "from": { "party": "a/b" }, "action": "x" } ] } }
            """);

        Assert.Contains(errors, e => e.Path == "permission.default");
        Assert.Contains(errors, e => e.Path == "permission.rules[0].from.party");
        Assert.Contains(errors, e => e.Path == "permission.rules[0].action");
    }
}
