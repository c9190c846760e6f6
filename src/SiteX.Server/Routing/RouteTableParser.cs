using System.Globalization;
using System.Text.Json;

namespace SiteX.Server.Routing;

/// <summary>
/// Reads a route table document (OSX <c>route_table.json</c> or the flat rule list) and collects every problem
/// with the JSON path of the offending field and how to fix it. Never throws on bad input.
/// </summary>
public static class RouteTableParser
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
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name is "route_table" or "routes" or "self_party" or "service_bindings")
                {
                    continue;
                }

                extra[property.Name] = property.Value.GetRawText();
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

    private static void ReadOsxTable(JsonElement table, List<RouteRuleConfig> rules, List<RouteTableError> errors)
    {
        if (table.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("route_table", $"expected an object of parties such as {{\"10000\": {{\"default\": [{{\"ip\": \"10.0.0.2\", \"port\": 9370}}]}}}}, found {Describe(table)}"));
            return;
        }

        foreach (var party in table.EnumerateObject())
        {
            var partyPath = $"route_table.{party.Name}";
            if (!IsValidId(party.Name))
            {
                errors.Add(new(partyPath, $"\"{Truncate(party.Name)}\" is not a valid party id; use 1-128 letters, digits, '.', '_' or '-'"));
                continue;
            }

            if (party.Value.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new(partyPath, $"expected an object of services such as {{\"default\": [...], \"fateflow\": [...]}}, found {Describe(party.Value)}"));
                continue;
            }

            foreach (var role in party.Value.EnumerateObject())
            {
                if (role.Name is "createTime" or "updateTime")
                {
                    continue;
                }

                var rolePath = $"{partyPath}.{role.Name}";
                if (!IsValidId(role.Name))
                {
                    errors.Add(new(rolePath, $"\"{Truncate(role.Name)}\" is not a valid service name; use 1-128 letters, digits, '.', '_' or '-'"));
                    continue;
                }

                if (role.Value.ValueKind != JsonValueKind.Array)
                {
                    errors.Add(new(rolePath, $"expected an array of endpoints such as [{{\"ip\": \"10.0.0.2\", \"port\": 9370}}], found {Describe(role.Value)}"));
                    continue;
                }

                var endpoints = new List<EndpointConfig>();
                var index = 0;
                foreach (var item in role.Value.EnumerateArray())
                {
                    var endpoint = ReadOsxEndpoint(item, $"{rolePath}[{index++}]", errors);
                    if (endpoint is not null)
                    {
                        endpoints.Add(endpoint);
                    }
                }

                if (index == 0)
                {
                    errors.Add(new(rolePath, "has no endpoints; add at least one, or remove the entry"));
                    continue;
                }

                rules.Add(new RouteRuleConfig { DstParty = party.Name, Service = role.Name, Endpoints = endpoints, Path = rolePath });
            }
        }
    }

    private static EndpointConfig? ReadOsxEndpoint(JsonElement item, string path, List<RouteTableError> errors)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new(path, $"expected an endpoint object such as {{\"ip\": \"10.0.0.2\", \"port\": 9370}}, found {Describe(item)}"));
            return null;
        }

        var before = errors.Count;
        var protocolText = ReadString(item, "protocol", path, errors);
        var protocol = EndpointProtocol.Grpc;
        var tlsFromScheme = false;
        if (protocolText is not null && !TryParseProtocol(protocolText, out protocol, out tlsFromScheme))
        {
            errors.Add(new($"{path}.protocol", $"\"{Truncate(protocolText)}\" is not a protocol; use \"grpc\" or \"http\" (or \"grpcs\"/\"https\" for TLS)"));
        }

        var host = ReadString(item, "ip", path, errors);
        var port = ReadPort(item, "port", path, errors);
        var url = ReadString(item, "url", path, errors);
        var useSsl = ReadBool(item, "useSSL", path, errors) ?? false;
        var endpoint = new EndpointConfig
        {
            Protocol = protocol,
            Host = host,
            Port = port ?? 0,
            Url = url,
            UseTls = useSsl || tlsFromScheme,
            UseKeyStore = ReadBool(item, "useKeyStore", path, errors) ?? false,
            KeyStoreFile = ReadString(item, "keyStoreFile", path, errors),
            KeyStorePassword = ReadString(item, "keyStorePassword", path, errors),
            TrustStoreFile = ReadString(item, "trustStoreFile", path, errors),
            TrustStorePassword = ReadString(item, "trustStorePassword", path, errors),
            CertChainFile = ReadString(item, "certChainFile", path, errors),
            PrivateKeyFile = ReadString(item, "privateKeyFile", path, errors),
            CaFile = ReadString(item, "caFile", path, errors),
            Hostname = ReadString(item, "hostname", path, errors),
        };

        CheckEndpoint(endpoint, path, item.TryGetProperty("port", out _), errors);
        return errors.Count == before ? endpoint : null;
    }

    private static void CheckEndpoint(EndpointConfig endpoint, string path, bool hasPort, List<RouteTableError> errors)
    {
        if (endpoint.Protocol == EndpointProtocol.Grpc)
        {
            if (string.IsNullOrWhiteSpace(endpoint.Host))
            {
                errors.Add(new($"{path}.ip", "a gRPC endpoint needs \"ip\" (a host name or address) and \"port\""));
            }
            else if (!IsValidHost(endpoint.Host))
            {
                errors.Add(new($"{path}.ip", $"\"{Truncate(endpoint.Host)}\" is not a host name or IP address"));
            }

            if (!hasPort)
            {
                errors.Add(new($"{path}.port", "a gRPC endpoint needs \"port\", a number from 1 to 65535"));
            }
        }
        else
        {
            if (string.IsNullOrWhiteSpace(endpoint.Url))
            {
                errors.Add(new($"{path}.url", "an http endpoint needs \"url\", for example \"https://10.0.0.2:8809/v1/interconn/chan/invoke\""));
            }
            else if (!Uri.TryCreate(endpoint.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add(new($"{path}.url", $"\"{Truncate(endpoint.Url)}\" is not an absolute http:// or https:// URL"));
            }
        }
    }

    private static void ReadFlatRules(JsonElement routes, List<RouteRuleConfig> rules, List<ServiceBindingConfig> bindings, List<RouteTableError> errors)
    {
        if (routes.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new("routes", $"expected an array of rules such as [{{\"service_name\": \"fate-serving\", \"dst_site\": \"siteB\", \"endpoint\": \"serving:8000\"}}], found {Describe(routes)}"));
            return;
        }

        var index = 0;
        foreach (var item in routes.EnumerateArray())
        {
            var path = $"routes[{index++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new(path, $"expected a rule object, found {Describe(item)}"));
                continue;
            }

            var before = errors.Count;
            var service = ReadString(item, "service_name", path, errors);
            var dst = ReadString(item, "dst_site", path, errors);
            var src = ReadString(item, "src_site", path, errors);
            var protocolText = ReadString(item, "protocol", path, errors);
            var grpcService = ReadString(item, "grpc_service", path, errors);
            var pathPrefix = ReadString(item, "path_prefix", path, errors);
            if (string.IsNullOrEmpty(service))
            {
                errors.Add(new($"{path}.service_name", "is required: the service this rule reaches, such as \"fate-serving\" or \"default\""));
            }
            else if (!IsValidId(service))
            {
                errors.Add(new($"{path}.service_name", $"\"{Truncate(service)}\" is not a valid service name; use 1-128 letters, digits, '.', '_' or '-'"));
            }

            if (string.IsNullOrEmpty(dst))
            {
                errors.Add(new($"{path}.dst_site", "is required: the party (site) id this rule reaches, or \"default\""));
            }
            else if (!IsValidId(dst))
            {
                errors.Add(new($"{path}.dst_site", $"\"{Truncate(dst)}\" is not a valid party id; use 1-128 letters, digits, '.', '_' or '-'"));
            }

            if (src is not null && (src.Length == 0 || !IsValidId(src)))
            {
                errors.Add(new($"{path}.src_site", $"\"{Truncate(src)}\" is not a valid party id; omit src_site to accept callers from any site"));
            }

            var protocol = EndpointProtocol.Grpc;
            var tls = false;
            if (protocolText is not null && !TryParseProtocol(protocolText, out protocol, out tls))
            {
                errors.Add(new($"{path}.protocol", $"\"{Truncate(protocolText)}\" is not a protocol; use \"grpc\", \"grpcs\", \"http\" or \"https\""));
            }

            var endpoints = new List<EndpointConfig>();
            if (!item.TryGetProperty("endpoint", out var endpointElement))
            {
                errors.Add(new($"{path}.endpoint", "is required: \"host:port\" for gRPC or a URL for HTTP (or an array of them)"));
            }
            else if (endpointElement.ValueKind == JsonValueKind.String)
            {
                AddFlatEndpoint(endpointElement.GetString()!, $"{path}.endpoint", protocol, protocolText is not null, tls, endpoints, errors);
            }
            else if (endpointElement.ValueKind == JsonValueKind.Array)
            {
                var i = 0;
                foreach (var e in endpointElement.EnumerateArray())
                {
                    var p = $"{path}.endpoint[{i++}]";
                    if (e.ValueKind != JsonValueKind.String)
                    {
                        errors.Add(new(p, $"expected \"host:port\" or a URL, found {Describe(e)}"));
                        continue;
                    }

                    AddFlatEndpoint(e.GetString()!, p, protocol, protocolText is not null, tls, endpoints, errors);
                }

                if (i == 0)
                {
                    errors.Add(new($"{path}.endpoint", "is an empty array; list at least one endpoint"));
                }
            }
            else
            {
                errors.Add(new($"{path}.endpoint", $"expected \"host:port\", a URL or an array of them, found {Describe(endpointElement)}"));
            }

            if (grpcService is not null)
            {
                CheckGrpcServiceName(grpcService, $"{path}.grpc_service", errors);
            }

            if (pathPrefix is not null)
            {
                CheckPathPrefix(pathPrefix, $"{path}.path_prefix", errors);
            }

            if (errors.Count != before)
            {
                continue;
            }

            rules.Add(new RouteRuleConfig { DstParty = dst!, Service = service!, SrcParty = src, Endpoints = endpoints, Path = path });
            if (grpcService is not null || pathPrefix is not null)
            {
                bindings.Add(new ServiceBindingConfig { GrpcService = grpcService, PathPrefix = pathPrefix, Party = dst!, Service = service!, Path = path });
            }
        }
    }

    private static void AddFlatEndpoint(string text, string path, EndpointProtocol protocol, bool protocolGiven, bool tls, List<EndpointConfig> endpoints, List<RouteTableError> errors)
    {
        if (text.Contains("://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
            {
                errors.Add(new(path, $"\"{Truncate(text)}\" is not a valid URL"));
                return;
            }

            if (!TryParseProtocol(uri.Scheme, out var schemeProtocol, out var schemeTls))
            {
                errors.Add(new(path, $"URL scheme \"{Truncate(uri.Scheme)}\" is not supported; use grpc://, grpcs://, http:// or https://"));
                return;
            }

            if (protocolGiven && schemeProtocol != protocol)
            {
                errors.Add(new(path, $"the URL scheme says {schemeProtocol} but \"protocol\" says {protocol}; make them agree"));
                return;
            }

            endpoints.Add(schemeProtocol == EndpointProtocol.Http
                ? new EndpointConfig { Protocol = EndpointProtocol.Http, Url = text, Host = uri.Host, Port = uri.Port, UseTls = schemeTls || tls }
                : new EndpointConfig { Protocol = EndpointProtocol.Grpc, Host = uri.Host, Port = uri.IsDefaultPort ? 0 : uri.Port, UseTls = schemeTls || tls });
            if (schemeProtocol == EndpointProtocol.Grpc && uri.IsDefaultPort)
            {
                errors.Add(new(path, $"\"{Truncate(text)}\" has no port; write host:port"));
            }

            return;
        }

        if (protocol == EndpointProtocol.Http)
        {
            errors.Add(new(path, $"\"{Truncate(text)}\" is not a URL; an http rule needs a URL such as \"http://10.0.0.5:8080\""));
            return;
        }

        if (!TrySplitHostPort(text, out var host, out var port))
        {
            errors.Add(new(path, $"\"{Truncate(text)}\" is not host:port; write for example \"serving-service:8000\" or \"[::1]:9370\""));
            return;
        }

        endpoints.Add(new EndpointConfig { Protocol = EndpointProtocol.Grpc, Host = host, Port = port, UseTls = tls });
    }

    private static void ReadBindings(JsonElement element, string path, List<ServiceBindingConfig> bindings, List<RouteTableError> errors)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new(path, $"expected an array such as [{{\"grpc_service\": \"grpc.testing.TestService\", \"party\": \"10000\", \"service\": \"test\"}}], found {Describe(element)}"));
            return;
        }

        var index = 0;
        foreach (var item in element.EnumerateArray())
        {
            var p = $"{path}[{index++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new(p, $"expected a binding object, found {Describe(item)}"));
                continue;
            }

            var before = errors.Count;
            var grpcService = ReadString(item, "grpc_service", p, errors);
            var pathPrefix = ReadString(item, "path_prefix", p, errors);
            var party = ReadString(item, "party", p, errors);
            var service = ReadString(item, "service", p, errors) ?? DefaultKey;
            if (grpcService is null && pathPrefix is null)
            {
                errors.Add(new(p, "needs \"grpc_service\" or \"path_prefix\" to say which calls it binds"));
            }

            if (grpcService is not null)
            {
                CheckGrpcServiceName(grpcService, $"{p}.grpc_service", errors);
            }

            if (pathPrefix is not null)
            {
                CheckPathPrefix(pathPrefix, $"{p}.path_prefix", errors);
            }

            if (string.IsNullOrEmpty(party) || !IsValidId(party))
            {
                errors.Add(new($"{p}.party", "is required: the party id the bound calls go to"));
            }

            if (!IsValidId(service))
            {
                errors.Add(new($"{p}.service", $"\"{Truncate(service)}\" is not a valid service name"));
            }

            if (errors.Count == before)
            {
                bindings.Add(new ServiceBindingConfig { GrpcService = grpcService, PathPrefix = pathPrefix, Party = party!, Service = service, Path = p });
            }
        }
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

    private static void CheckGrpcServiceName(string name, string path, List<RouteTableError> errors)
    {
        if (name.Length == 0 || name.Length > 256 || name.Contains('/', StringComparison.Ordinal) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_'))
        {
            errors.Add(new(path, $"\"{Truncate(name)}\" is not a gRPC service name; write the full name such as \"grpc.testing.TestService\", without slashes"));
        }
    }

    private static void CheckPathPrefix(string prefix, string path, List<RouteTableError> errors)
    {
        if (prefix.Length < 2 || prefix[0] != '/' || prefix.Length > 1024 || prefix.Any(char.IsControl))
        {
            errors.Add(new(path, $"\"{Truncate(prefix)}\" is not a path prefix; write one that starts with '/', such as \"/api/\""));
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

    private static string? ReadPartyId(JsonElement item, string path, List<RouteTableError> errors)
    {
        string? party = item.ValueKind switch
        {
            JsonValueKind.String => item.GetString(),
            JsonValueKind.Number => item.GetRawText(),
            _ => null,
        };
        if (party is null)
        {
            errors.Add(new(path, $"expected a party id string such as \"9999\", found {Describe(item)}"));
            return null;
        }

        if (!IsValidId(party))
        {
            errors.Add(new(path, $"\"{Truncate(party)}\" is not a valid party id; use 1-128 letters, digits, '.', '_' or '-'"));
            return null;
        }

        return party;
    }

    private static string? ReadString(JsonElement obj, string name, string path, List<RouteTableError> errors)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return value.GetString();
            case JsonValueKind.Number:
                return value.GetRawText();
            default:
                errors.Add(new($"{path}.{name}", $"expected a string, found {Describe(value)}"));
                return null;
        }
    }

    private static bool? ReadBool(JsonElement obj, string name, string path, List<RouteTableError> errors)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.String when bool.TryParse(value.GetString(), out var parsed):
                return parsed;
            default:
                errors.Add(new($"{path}.{name}", $"expected true or false, found {Describe(value)}"));
                return null;
        }
    }

    private static int? ReadPort(JsonElement obj, string name, string path, List<RouteTableError> errors)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        int port;
        var ok = value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetInt32(out port),
            JsonValueKind.String => int.TryParse(value.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out port),
            _ => (port = 0) != 0,
        };
        if (!ok || port is < 1 or > 65535)
        {
            errors.Add(new($"{path}.{name}", $"{Truncate(value.GetRawText())} is not a TCP port; use a number from 1 to 65535"));
            return null;
        }

        return port;
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{Truncate(element.GetString() ?? "")}\"",
        JsonValueKind.Number => $"the number {Truncate(element.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => $"the value {element.GetRawText()}",
        _ => "null",
    };

    internal static string Truncate(string text)
    {
        var clean = new string(text.Take(64).Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return text.Length > 64 ? clean + "..." : clean;
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
