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

/// <summary>A <c>service_bindings</c> entry: calls to <paramref name="GrpcService"/> go to (party, service).</summary>
internal readonly record struct Binding(string GrpcService, string Party, string Service);

/// <summary>Writes route tables in OSX's <c>route_table.json</c> format, as an operator would.</summary>
internal static class RouteJson
{
    public static string Osx(string selfParty, params Route[] routes) => Osx(selfParty, routes, []);

    public static string Osx(string selfParty, IEnumerable<Route> routes, IEnumerable<Binding> bindings)
    {
        var table = new JsonObject();
        foreach (var route in routes)
        {
            if (table[route.Party] is not JsonObject party)
            {
                table[route.Party] = party = new JsonObject();
            }

            if (party[route.Service] is not JsonArray endpoints)
            {
                party[route.Service] = endpoints = new JsonArray();
            }

            endpoints.Add(route.Url is { } url
                ? new JsonObject { ["protocol"] = "http", ["url"] = url }
                : new JsonObject { ["ip"] = "127.0.0.1", ["port"] = route.Port });
        }

        var document = new JsonObject
        {
            ["route_table"] = table,
            ["self_party"] = new JsonArray(selfParty),
        };
        var bindingArray = new JsonArray();
        foreach (var binding in bindings)
        {
            bindingArray.Add(new JsonObject { ["grpc_service"] = binding.GrpcService, ["party"] = binding.Party, ["service"] = binding.Service });
        }

        if (bindingArray.Count > 0)
        {
            document["service_bindings"] = bindingArray;
        }

        return document.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }
}
