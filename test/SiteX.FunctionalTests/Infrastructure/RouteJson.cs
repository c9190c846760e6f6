using System.Text.Json.Nodes;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>One OSX route: traffic for <paramref name="Service"/> at <paramref name="Party"/> goes to 127.0.0.1:<paramref name="Port"/>,
/// or, when <paramref name="Url"/> is set, to that HTTP url (<c>"protocol": "http"</c>).</summary>
internal readonly record struct Route(string Party, string Service, int Port, string? Url = null)
{
    /// <summary>A peer gateway's interconnection invoke endpoint on its HTTP port.</summary>
    public static Route HttpGateway(string party, int httpPort) =>
        new(party, "default", 0, $"http://127.0.0.1:{httpPort}/v1/interconn/chan/invoke");
}

/// <summary>One OSX HTTP route: traffic for <paramref name="Service"/> at <paramref name="Party"/> goes to
/// <paramref name="Url"/> (<c>"protocol": "http"</c>).</summary>
internal readonly record struct HttpRoute(string Party, string Service, string Url);

/// <summary>A <c>service_bindings</c> entry: calls to <paramref name="GrpcService"/> go to (party, service).</summary>
internal readonly record struct Binding(string GrpcService, string Party, string Service);

/// <summary>A <c>service_bindings</c> entry: requests whose path starts with <paramref name="PathPrefix"/> go to (party, service).</summary>
internal readonly record struct PathBinding(string PathPrefix, string Party, string Service);

/// <summary>Writes route tables in OSX's <c>route_table.json</c> format, as an operator would.</summary>
internal static class RouteJson
{
    public static string Osx(string selfParty, params Route[] routes) => Osx(selfParty, routes, []);

    public static string Osx(string selfParty, IEnumerable<Route> routes, IEnumerable<Binding> bindings) =>
        Osx(selfParty, routes, [], bindings.Select(b => new JsonObject { ["grpc_service"] = b.GrpcService, ["party"] = b.Party, ["service"] = b.Service }));

    public static string Osx(string selfParty, IEnumerable<Route> routes, IEnumerable<HttpRoute> httpRoutes, IEnumerable<PathBinding> bindings) =>
        Osx(selfParty, routes, httpRoutes, bindings.Select(b => new JsonObject { ["path_prefix"] = b.PathPrefix, ["party"] = b.Party, ["service"] = b.Service }));

    private static string Osx(string selfParty, IEnumerable<Route> routes, IEnumerable<HttpRoute> httpRoutes, IEnumerable<JsonObject> bindings)
    {
        var table = new JsonObject();
        foreach (var route in routes)
        {
            Endpoints(table, route.Party, route.Service).Add(route.Url is { } url
                ? new JsonObject { ["protocol"] = "http", ["url"] = url }
                : new JsonObject { ["ip"] = "127.0.0.1", ["port"] = route.Port });
        }

        foreach (var route in httpRoutes)
        {
            Endpoints(table, route.Party, route.Service).Add(new JsonObject { ["protocol"] = "http", ["url"] = route.Url });
        }

        var document = new JsonObject
        {
            ["route_table"] = table,
            ["self_party"] = new JsonArray(selfParty),
        };
        var bindingArray = new JsonArray([.. bindings]);
        if (bindingArray.Count > 0)
        {
            document["service_bindings"] = bindingArray;
        }

        return document.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Adds (or replaces) the table's <c>permission</c> section.</summary>
    public static string WithPermission(string tableJson, string permissionJson)
    {
        var document = JsonNode.Parse(tableJson)!.AsObject();
        document["permission"] = JsonNode.Parse(permissionJson);
        return document.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    private static JsonArray Endpoints(JsonObject table, string partyKey, string serviceKey)
    {
        if (table[partyKey] is not JsonObject party)
        {
            table[partyKey] = party = new JsonObject();
        }

        if (party[serviceKey] is not JsonArray endpoints)
        {
            party[serviceKey] = endpoints = new JsonArray();
        }

        return endpoints;
    }
}
