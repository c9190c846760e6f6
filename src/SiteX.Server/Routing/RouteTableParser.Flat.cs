using System.Globalization;
using System.Text.Json;

namespace SiteX.Server.Routing;

/// <summary>The flat rule list and service bindings.</summary>
public static partial class RouteTableParser
{
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

            // TLS fields are written once per rule and apply to each of its endpoints.
            var tlsFields = ReadTlsFields(item, path, errors);
            for (var i = 0; i < endpoints.Count; i++)
            {
                endpoints[i] = tlsFields.ApplyTo(endpoints[i]);
            }

            var tlsErrors = new List<RouteTableError>();
            foreach (var endpoint in endpoints)
            {
                CheckTlsConsistency(endpoint, path, flat: true, tlsErrors);
            }

            errors.AddRange(tlsErrors.Distinct());
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
}
