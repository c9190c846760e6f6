using System.Text.Json;

namespace SiteX.Server.Routing;

/// <summary>
/// The <c>permission</c> section, in either of its two shapes (both formats of table may hold it):
/// <list type="bullet">
/// <item>SiteX's: <c>{"default": "allow"|"deny", "rules": [{"from": {"party", "service"}, "to": {"party", "service"},
/// "action": "allow"|"deny"}]}</c>;</item>
/// <item>FATE-Serving's (serving-proxy's <c>route_table.json</c>; OSX keeps it and ignores it):
/// <c>{"default_allow": true|false, "allow": [{"from": {"coordinator", "role"}, "to": {...}}], "deny": [...]}</c>.</item>
/// </list>
/// Unknown keys are errors: a misspelt key would otherwise leave a rule silently out.
/// </summary>
public static partial class RouteTableParser
{
    private const string PermissionKey = "permission";

    private static readonly string[] s_permissionKeys = ["default", "default_allow", "rules", "allow", "deny"];
    private static readonly string[] s_ruleKeys = ["from", "to", "action"];
    private static readonly string[] s_fateRuleKeys = ["from", "to"];
    private static readonly string[] s_subjectKeys = ["party", "service", "coordinator", "role"];

    private static PermissionConfig? ReadPermission(JsonElement element, List<RouteTableError> errors)
    {
        const string path = PermissionKey;
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new(path, $"expected an object such as {{\"default\": \"deny\", \"rules\": [...]}} or OSX's {{\"default_allow\": true}}, found {Describe(element)}"));
            return null;
        }

        var before = errors.Count;
        CheckKeys(element, path, s_permissionKeys, errors);
        var hasDefault = element.TryGetProperty("default", out var defaultElement);
        var hasDefaultAllow = element.TryGetProperty("default_allow", out _);
        var hasRules = element.TryGetProperty("rules", out var rulesElement);
        var hasFateLists = element.TryGetProperty("allow", out _) || element.TryGetProperty("deny", out _);
        PermissionAction action = PermissionAction.Allow;
        var defaultPath = $"{path}.default";
        if (hasDefault && hasDefaultAllow)
        {
            errors.Add(new(path, "has both \"default\" and \"default_allow\"; keep one of them"));
        }
        else if (hasDefault)
        {
            action = ReadAction(defaultElement, defaultPath, errors) ?? PermissionAction.Allow;
        }
        else if (hasDefaultAllow)
        {
            defaultPath = $"{path}.default_allow";
            action = ReadBool(element, "default_allow", path, errors) is false ? PermissionAction.Deny : PermissionAction.Allow;
        }
        else
        {
            errors.Add(new(path, "says nothing about calls no rule matches; add \"default\": \"allow\" or \"deny\" (or OSX's \"default_allow\": true or false)"));
        }

        if (hasRules && hasFateLists)
        {
            errors.Add(new(path, "has both \"rules\" (SiteX: the most specific rule wins) and \"allow\"/\"deny\" lists (FATE-Serving: deny wins); write the rules one way"));
        }

        var rules = new List<PermissionRuleConfig>();
        if (hasRules)
        {
            ReadRules(rulesElement, $"{path}.rules", rules, errors);
        }

        foreach (var (list, listAction) in new[] { ("allow", PermissionAction.Allow), ("deny", PermissionAction.Deny) })
        {
            if (element.TryGetProperty(list, out var listElement))
            {
                ReadFateServingRules(listElement, $"{path}.{list}", listAction, rules, errors);
            }
        }

        return errors.Count == before ? new PermissionConfig { Default = action, DefaultPath = defaultPath, Rules = rules } : null;
    }

    private static void ReadRules(JsonElement element, string path, List<PermissionRuleConfig> rules, List<RouteTableError> errors)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new(path, $"expected an array of rules such as [{{\"from\": {{\"party\": \"9999\"}}, \"to\": {{\"party\": \"10000\", \"service\": \"fateflow\"}}, \"action\": \"allow\"}}], found {Describe(element)}"));
            return;
        }

        var seen = new Dictionary<(PermissionSubject, PermissionSubject), string>();
        var index = 0;
        foreach (var item in element.EnumerateArray())
        {
            var rulePath = $"{path}[{index++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new(rulePath, $"expected a rule object with \"from\", \"to\" and \"action\", found {Describe(item)}"));
                continue;
            }

            var before = errors.Count;
            CheckKeys(item, rulePath, s_ruleKeys, errors);
            var from = ReadSubject(item, "from", rulePath, errors);
            var to = ReadSubject(item, "to", rulePath, errors);
            PermissionAction? action = null;
            if (item.TryGetProperty("action", out var actionElement))
            {
                action = ReadAction(actionElement, $"{rulePath}.action", errors);
            }
            else
            {
                errors.Add(new($"{rulePath}.action", "is required: \"allow\" or \"deny\""));
            }

            if (errors.Count != before || action is null)
            {
                continue;
            }

            if (seen.TryGetValue((from!, to!), out var first))
            {
                errors.Add(new(rulePath, $"names the same from {from} and to {to} as the rule at {first}; keep one of them"));
                continue;
            }

            seen[(from!, to!)] = rulePath;
            rules.Add(new PermissionRuleConfig { From = from!, To = to!, Action = action.Value, Kind = PermissionRuleKind.Rule, Path = rulePath });
        }
    }

    private static void ReadFateServingRules(JsonElement element, string path, PermissionAction action, List<PermissionRuleConfig> rules, List<RouteTableError> errors)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new(path, $"expected an array of pairs such as [{{\"from\": {{\"coordinator\": \"9999\", \"role\": \"*\"}}, \"to\": {{\"coordinator\": \"10000\", \"role\": \"serving\"}}}}], found {Describe(element)}"));
            return;
        }

        var index = 0;
        foreach (var item in element.EnumerateArray())
        {
            var rulePath = $"{path}[{index++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new(rulePath, $"expected a pair object with \"from\" and \"to\", found {Describe(item)}"));
                continue;
            }

            var before = errors.Count;
            CheckKeys(item, rulePath, s_fateRuleKeys, errors);
            var from = ReadSubject(item, "from", rulePath, errors);
            var to = ReadSubject(item, "to", rulePath, errors);
            if (errors.Count == before)
            {
                rules.Add(new PermissionRuleConfig { From = from!, To = to!, Action = action, Kind = PermissionRuleKind.FateServing, Path = rulePath });
            }
        }
    }

    /// <summary>A rule's <c>from</c> or <c>to</c>: <c>party</c> (FATE-Serving: <c>coordinator</c>) and <c>service</c>
    /// (<c>role</c>), each a valid id or <c>*</c>; an omitted field, or an omitted side, is <c>*</c>.</summary>
    private static PermissionSubject? ReadSubject(JsonElement rule, string name, string rulePath, List<RouteTableError> errors)
    {
        var path = $"{rulePath}.{name}";
        if (!rule.TryGetProperty(name, out var element))
        {
            return PermissionSubject.Anyone;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new(path, $"expected an object such as {{\"party\": \"9999\", \"service\": \"*\"}}, found {Describe(element)}"));
            return null;
        }

        var before = errors.Count;
        CheckKeys(element, path, s_subjectKeys, errors);
        var party = ReadSubjectField(element, "party", "coordinator", path, "party id", errors);
        var service = ReadSubjectField(element, "service", "role", path, "service name", errors);
        return errors.Count == before ? new PermissionSubject(party!, service!) : null;
    }

    private static string? ReadSubjectField(JsonElement subject, string name, string fateServingName, string path, string what, List<RouteTableError> errors)
    {
        var hasName = subject.TryGetProperty(name, out _);
        var hasAlias = subject.TryGetProperty(fateServingName, out _);
        if (hasName && hasAlias)
        {
            errors.Add(new(path, $"has both \"{name}\" and \"{fateServingName}\" (the same field in FATE-Serving's spelling); keep one"));
            return null;
        }

        var key = hasAlias ? fateServingName : name;
        var value = ReadString(subject, key, path, errors);
        if (value is null)
        {
            return subject.TryGetProperty(key, out var present) && present.ValueKind != JsonValueKind.Null ? null : PermissionSubject.Any;
        }

        if (value != PermissionSubject.Any && !IsValidId(value))
        {
            errors.Add(new($"{path}.{key}", $"\"{Truncate(value)}\" is not a valid {what}; use 1-128 letters, digits, '.', '_' or '-', or \"*\" for any"));
            return null;
        }

        return value;
    }

    private static PermissionAction? ReadAction(JsonElement element, string path, List<RouteTableError> errors)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            switch (element.GetString())
            {
                case "allow":
                    return PermissionAction.Allow;
                case "deny":
                    return PermissionAction.Deny;
            }
        }

        errors.Add(new(path, $"expected \"allow\" or \"deny\", found {Describe(element)}"));
        return null;
    }

    private static void CheckKeys(JsonElement element, string path, string[] known, List<RouteTableError> errors)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (Array.IndexOf(known, property.Name) < 0)
            {
                errors.Add(new($"{path}.{PathKey(property.Name)}", $"is not a key of this object; the keys are {string.Join(", ", known.Select(k => $"\"{k}\""))}"));
            }
        }
    }
}
