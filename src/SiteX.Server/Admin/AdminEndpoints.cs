using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SiteX.Server.Queues;
using SiteX.Server.Routing;

namespace SiteX.Server.Admin;

/// <summary>
/// The admin port (loopback by default): health, the route table summary and the queues. The metrics endpoint is
/// added by the host. Every answer is JSON; documented in <c>docs/admin-api.md</c>.
/// </summary>
internal static class AdminEndpoints
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static void Map(IApplicationBuilder admin)
    {
        admin.Run(async context =>
        {
            var services = context.RequestServices;
            var path = context.Request.Path.Value;
            var method = context.Request.Method;
            switch (path)
            {
                case "/healthz" when HttpMethods.IsGet(method):
                    await HealthAsync(context, services.GetRequiredService<RouteTableManager>(), services.GetRequiredService<QueueManager>(), services.GetRequiredService<IQueueStore>());
                    return;
                case "/v1/queues" when HttpMethods.IsGet(method):
                    await WriteAsync(context, StatusCodes.Status200OK, new { sessions = services.GetRequiredService<QueueManager>().Snapshot() });
                    return;
                case "/v1/queues/release" when HttpMethods.IsPost(method):
                    await ReleaseAsync(context, services.GetRequiredService<QueueManager>());
                    return;
                default:
                    await WriteAsync(context, StatusCodes.Status404NotFound, new { error = "not_found", message = $"no admin endpoint {method} {RouteTableParser.Truncate(path ?? "")}; see docs/admin-api.md" });
                    return;
            }
        });
    }

    private static Task HealthAsync(HttpContext context, RouteTableManager routes, QueueManager queues, IQueueStore store)
    {
        var table = routes.Current;
        var sessions = queues.Snapshot();
        return WriteAsync(context, StatusCodes.Status200OK, new
        {
            status = "ok",
            selfParties = table.SelfPartyList,
            routeTable = new { version = table.Version, source = table.Source, parties = table.PartyCount, rules = table.RuleCount },
            lastRejectedEdit = routes.LastErrors.Select(e => e.ToString()),
            queues = new { sessions = sessions.Count, depth = sessions.Sum(s => s.Depth), bytes = sessions.Sum(s => s.Bytes), storeBytes = store.DiskBytes },
        });
    }

    private static async Task ReleaseAsync(HttpContext context, QueueManager queues)
    {
        ReleaseRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<ReleaseRequest>(context.Request.Body, s_json, context.RequestAborted);
        }
        catch (JsonException ex)
        {
            await WriteAsync(context, StatusCodes.Status400BadRequest, new { error = "bad_request", message = $"the body is not JSON like {{\"session\": \"...\", \"topic\": \"...\"}}: {ex.Message}" });
            return;
        }

        if (string.IsNullOrEmpty(request?.Session))
        {
            await WriteAsync(context, StatusCodes.Status400BadRequest, new { error = "bad_request", message = "\"session\" is required; \"topic\" is optional (without it the whole session is released)" });
            return;
        }

        var dropped = await queues.ReleaseAsync(request.Session, request.Topic, context.RequestAborted);
        await WriteAsync(context, StatusCodes.Status200OK, new { released = request.Session, topic = request.Topic, droppedMessages = dropped });
    }

    private static async Task WriteAsync(HttpContext context, int status, object body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(context.Response.Body, body, s_json, context.RequestAborted);
    }

    private sealed record ReleaseRequest(string? Session, string? Topic);
}
