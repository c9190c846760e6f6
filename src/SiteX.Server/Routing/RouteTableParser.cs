using System.Globalization;
using System.Text.Json;

namespace SiteX.Server.Routing;

/// <summary>
/// Reads a route table document (OSX <c>route_table.json</c> or the flat rule list) and collects every problem
/// with the JSON path of the offending field and how to fix it. Never throws on bad input.
/// </summary>
public static partial class RouteTableParser
{
    internal const string DefaultKey = "default";

    private static readonly JsonDocumentOptions s_options = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
        MaxDepth = 32,
    };

    /// <summary>Parses and validates <paramref name="json"/>. Returns the table, or null with the errors.</summary>
    public static RouteTableConfig? Parse(string json, out IReadOnlyList<RouteTableError> errors)
    {
        var list = new List<RouteTableError>();
        errors = list;
        if (string.IsNullOrWhiteSpace(json))
        {
            list.Add(new("", "the document is empty; write {\"route_table\": {}, \"self_party\": [\"9999\"]} or {\"routes\": []}"));
            return null;
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, s_options);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $"line {line + 1}, column {ex.BytePositionInLine + 1}" : "unknown position";
            list.Add(new("", $"not valid JSON at {where}: {FirstSentence(ex.Message)}"));
            return null;
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                list.Add(new("$", $"expected a JSON object at the top level, found {Describe(root)}"));
                return null;
            }

            var hasOsx = root.TryGetProperty("route_table", out var osxTable);
            var hasFlat = root.TryGetProperty("routes", out var flatRoutes);
            if (hasOsx && hasFlat)
            {
                list.Add(new("$", "has both \"route_table\" (OSX format) and \"routes\" (flat rules); keep one of them"));
                return null;
            }

            if (!hasOsx && !hasFlat)
            {
                list.Add(new("$", "has neither \"route_table\" (OSX format) nor \"routes\" (flat rule list); add one of them"));
                return null;
            }

            var selfParties = ReadSelfParties(root, list);
            var bindings = new List<ServiceBindingConfig>();
            var rules = new List<RouteRuleConfig>();
            var extra = new Dictionary<string, string>(StringComparer.Ordinal);
            PermissionConfig? permission = null;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name is "route_table" or "routes" or "self_party" or "service_bindings" or PermissionKey)
                {
                    continue;
                }

                if (property.Name is "permissions")
                {
                    list.Add(new(property.Name, $"is not a route table key; the permission rules go under \"{PermissionKey}\" (singular, OSX's key)"));
                    continue;
                }

                extra[property.Name] = property.Value.GetRawText();
            }

            if (root.TryGetProperty(PermissionKey, out var permissionElement))
            {
                permission = ReadPermission(permissionElement, list);
            }

            if (root.TryGetProperty("service_bindings", out var bindingsElement))
            {
                ReadBindings(bindingsElement, "service_bindings", bindings, list);
            }

            RouteTableFormat format;
            if (hasOsx)
            {
                format = RouteTableFormat.Osx;
                ReadOsxTable(osxTable, rules, list);
            }
            else
            {
                format = RouteTableFormat.Flat;
                ReadFlatRules(flatRoutes, rules, bindings, list);
            }

            CheckDuplicates(rules, list);
            if (list.Count > 0)
            {
                return null;
            }

            return new RouteTableConfig
            {
                Format = format,
                SelfParties = selfParties,
                Rules = rules,
                Bindings = bindings,
                Permissions = permission ?? PermissionConfig.AllowAll,
                ExtraJson = extra,
            };
        }
    }

    private static List<string>? ReadSelfParties(JsonElement root, List<RouteTableError> errors)
    {
        if (!root.TryGetProperty("self_party", out var element))
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new("self_party", $"expected an array of party ids such as [\"9999\"], found {Describe(element)}"));
            return null;
        }

        var parties = new List<string>();
        var index = 0;
        foreach (var item in element.EnumerateArray())
        {
            var path = $"self_party[{index++}]";
            var party = ReadPartyId(item, path, errors);
            if (party is null)
            {
                continue;
            }

            if (parties.Contains(party, StringComparer.Ordinal))
            {
                errors.Add(new(path, $"party \"{party}\" is listed twice; remove the duplicate"));
                continue;
            }

            parties.Add(party);
        }

        return parties;
    }

    private static void CheckDuplicates(List<RouteRuleConfig> rules, List<RouteTableError> errors)
    {
        var seen = new Dictionary<(string, string, string?), string>();
        foreach (var rule in rules)
        {
            var key = (rule.DstParty, rule.Service, rule.SrcParty);
            if (seen.TryGetValue(key, out var first))
            {
                errors.Add(new(rule.Path, $"duplicates the route at {first} for party \"{rule.DstParty}\" service \"{rule.Service}\"; list several endpoints in one rule instead"));
                continue;
            }

            seen[key] = rule.Path;
        }
    }

    internal static bool TryParseProtocol(string text, out EndpointProtocol protocol, out bool tls)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "grpc":
                protocol = EndpointProtocol.Grpc;
                tls = false;
                return true;
            case "grpcs":
                protocol = EndpointProtocol.Grpc;
                tls = true;
                return true;
            case "http":
                protocol = EndpointProtocol.Http;
                tls = false;
                return true;
            case "https":
                protocol = EndpointProtocol.Http;
                tls = true;
                return true;
            default:
                protocol = EndpointProtocol.Grpc;
                tls = false;
                return false;
        }
    }

    internal static bool TrySplitHostPort(string text, out string host, out int port)
    {
        host = "";
        port = 0;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            return false;
        }

        var hostPart = text[..colon];
        if (hostPart.StartsWith('[') && hostPart.EndsWith(']'))
        {
            hostPart = hostPart[1..^1];
        }
        else if (hostPart.Contains(':', StringComparison.Ordinal))
        {
            return false; // an IPv6 address needs brackets
        }

        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            return false;
        }

        host = hostPart;
        return IsValidHost(hostPart);
    }

    internal static bool IsValidHost(string host) =>
        host.Length is > 0 and <= 253 && Uri.CheckHostName(host) != UriHostNameType.Unknown;

    /// <summary>Party ids and service names: 1-128 of [A-Za-z0-9._-]. They appear in logs, metrics and headers.</summary>
    public static bool IsValidId(string id)
    {
        if (id.Length is 0 or > 128)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '.' and not '_' and not '-')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An object key as it may appear in an error's JSON path: as written when it is a valid id, else cut
    /// short with control characters replaced, so that a hostile key cannot flood or forge a log line.</summary>
    internal static string PathKey(string key) => IsValidId(key) ? key : Truncate(key);

    internal static string Truncate(string text)
    {
        var clean = new string(text.Take(64).Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return text.Length > 64 ? clean + "..." : clean;
    }

}
