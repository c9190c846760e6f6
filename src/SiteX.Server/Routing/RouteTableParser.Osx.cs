using System.Globalization;
using System.Text.Json;

namespace SiteX.Server.Routing;

/// <summary>The OSX <c>route_table.json</c> format: parties, services (roles) and endpoint objects.</summary>
public static partial class RouteTableParser
{
    private static void ReadOsxTable(JsonElement table, List<RouteRuleConfig> rules, List<RouteTableError> errors)
    {
        if (table.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("route_table", $"expected an object of parties such as {{\"10000\": {{\"default\": [{{\"ip\": \"10.0.0.2\", \"port\": 9370}}]}}}}, found {Describe(table)}"));
            return;
        }

        foreach (var party in table.EnumerateObject())
        {
            var partyPath = $"route_table.{PathKey(party.Name)}";
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

                var rolePath = $"{partyPath}.{PathKey(role.Name)}";
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
        var httpsUrl = protocol == EndpointProtocol.Http && url is not null && url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        var tls = ReadTlsFields(item, path, errors);
        var endpoint = tls.ApplyTo(new EndpointConfig
        {
            Protocol = protocol,
            Host = host,
            Port = port ?? 0,
            Url = url,
            UseTls = useSsl || tlsFromScheme || httpsUrl,
        });

        CheckEndpoint(endpoint, path, item.TryGetProperty("port", out _), errors);
        CheckTlsConsistency(endpoint, path, flat: false, errors);
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
}
