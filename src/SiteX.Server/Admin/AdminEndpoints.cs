using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Queues;
using SiteX.Server.Routing;

namespace SiteX.Server.Admin;

/// <summary>
/// The admin port (loopback by default): health, the route table summary and the queues. The metrics endpoint is
/// added by the host, and <see cref="AdminGuard"/> stands in front of both. Every answer is JSON; documented in
/// <c>docs/admin-api.md</c>. Every change is written to the audit trail (<see cref="AuditLog.Change"/>).
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
                    await ReleaseAsync(context, services.GetRequiredService<QueueManager>(), services.GetRequiredService<AdminGuard>().Audit,
                        services.GetRequiredService<IOptions<SiteXOptions>>().Value.Queues.MaxNameLength);
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

    private static async Task ReleaseAsync(HttpContext context, QueueManager queues, ILogger audit, int maxNameLength)
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

        if (!QueueNames.IsValid(request.Session, maxNameLength, out var why) || (request.Topic is { Length: > 0 } topic && !QueueNames.IsValid(topic, maxNameLength, out why)))
        {
            await WriteAsync(context, StatusCodes.Status400BadRequest, new { error = "bad_request", message = $"\"session\" and \"topic\" must be queue names: the value {why}" });
            return;
        }

        var topicName = string.IsNullOrEmpty(request.Topic) ? null : request.Topic;
        var dropped = await queues.ReleaseAsync(request.Session, topicName, context.RequestAborted);
        AuditLog.Change(audit, context.Connection.RemoteIpAddress?.ToString() ?? "?", context.Request.Method, context.Request.Path.Value ?? "",
            $"released {(topicName is null ? "every topic" : $"topic {topicName}")} of session {request.Session}: {dropped} unconsumed message(s) dropped");
        await WriteAsync(context, StatusCodes.Status200OK, new { released = request.Session, topic = request.Topic, droppedMessages = dropped });
    }

    internal static async Task WriteAsync(HttpContext context, int status, object body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(context.Response.Body, body, s_json, context.RequestAborted);
    }

    private sealed record ReleaseRequest(string? Session, string? Topic);
}
