using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using SiteX.Server.Routing;

namespace SiteX.Server.Admin;

/// <summary>The admin port: health and route table summary (the metrics endpoint is added by the host).</summary>
internal static class AdminEndpoints
{
    public static void Map(IApplicationBuilder admin)
    {
        admin.Run(async context =>
        {
            var routes = context.RequestServices.GetService(typeof(RouteTableManager)) as RouteTableManager;
            switch (context.Request.Path.Value)
            {
                case "/healthz":
                    var table = routes!.Current;
                    context.Response.ContentType = "application/json; charset=utf-8";
                    await context.Response.WriteAsync(JsonSerializer.Serialize(new
                    {
                        status = "ok",
                        selfParties = table.SelfPartyList,
                        routeTable = new { version = table.Version, source = table.Source, parties = table.PartyCount, rules = table.RuleCount },
                        lastRejectedEdit = routes.LastErrors.Select(e => e.ToString()),
                    }));
                    return;
                default:
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    context.Response.ContentType = "application/json; charset=utf-8";
                    await context.Response.WriteAsync("{\"error\":\"not_found\",\"message\":\"unknown admin path; see docs/configuration.md\"}");
                    return;
            }
        });
    }
}
