using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>What <see cref="RestService"/> saw of one request (its default answer, as JSON).</summary>
internal sealed record RestEcho(
    string Method,
    string Path,
    string Query,
    string Protocol,
    Dictionary<string, string> Headers,
    long BodyBytes,
    string BodySha256,
    string? BodyText,
    string ConnectionId);

/// <summary>
/// A plain REST service on a real Kestrel server (HTTP/1.1, 127.0.0.1, a free port), the kind of service a site puts
/// behind its gateway. By the last segment of the path:
/// <list type="bullet">
/// <item><c>.../status/{code}</c>: that status, a text body naming it, and a header <c>x-service-header</c>;</item>
/// <item><c>.../download?bytes=N&amp;chunked=true|false</c>: N bytes of <see cref="BulkData"/>, chunked or with a
/// Content-Length;</item>
/// <item><c>.../stall</c>: never answers (until the caller goes away);</item>
/// <item>anything else: a <see cref="RestEcho"/> of the request, reading its body as a stream (SHA-256 and count,
/// the text of a short body); with a request header <c>x-answer-with-hop-header: NAME</c>, the answer names header
/// NAME in its <c>Connection</c> header and carries it.</item>
/// </list>
/// </summary>
internal sealed class RestService : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RestService(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The ids of the connections requests arrived on.</summary>
    public ConcurrentDictionary<string, int> Connections { get; } = new(StringComparer.Ordinal);

    /// <summary>Requests the service has started to answer.</summary>
    public int Requests => Connections.Values.Sum();

    public static async Task<RestService> StartAsync(ILoggerProvider logs)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "rest-service", ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddProvider(logs);
        var app = builder.Build();
        RestService? service = null;
        app.Run(context => service!.HandleAsync(context));
        var port = await LoopbackApp.StartAsync(app);
        service = new RestService(app, port);
        return service;
    }

    private async Task HandleAsync(HttpContext context)
    {
        Connections.AddOrUpdate(context.Connection.Id, 1, (_, n) => n + 1);
        var path = context.Request.Path.Value ?? "";
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length >= 2 && segments[^2] == "status" && int.TryParse(segments[^1], CultureInfo.InvariantCulture, out var status))
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "text/plain; charset=utf-8";
            context.Response.Headers["x-service-header"] = "from-the-service";
            if (status == StatusCodes.Status503ServiceUnavailable)
            {
                context.Response.Headers.RetryAfter = "7";
            }

            await context.Response.WriteAsync(StatusBody(status, path));
            return;
        }

        switch (segments.LastOrDefault())
        {
            case "download":
                var bytes = long.Parse(context.Request.Query["bytes"].ToString(), CultureInfo.InvariantCulture);
                context.Response.ContentType = "application/octet-stream";
                if (context.Request.Query["chunked"] != "true")
                {
                    context.Response.ContentLength = bytes;
                }

                await BulkData.WriteAsync(context.Response.Body, bytes, hash: null, context.RequestAborted);
                return;
            case "stall":
                await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            default:
                await EchoAsync(context);
                return;
        }
    }

    /// <summary>The body of the service's answer with status <paramref name="status"/>.</summary>
    public static string StatusBody(int status, string path) => $"status {status} from the service itself for {path}\n";

    private static async Task EchoAsync(HttpContext context)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[BulkData.ChunkBytes];
        var text = new MemoryStream();
        long total = 0;
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            if (total < 4096)
            {
                text.Write(buffer, 0, (int)Math.Min(read, 4096 - total));
            }

            total += read;
        }

        var echo = new RestEcho(
            context.Request.Method,
            context.Request.Path.Value ?? "",
            context.Request.QueryString.Value ?? "",
            context.Request.Protocol,
            context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.Ordinal),
            total,
            Convert.ToHexStringLower(hash.GetHashAndReset()),
            total <= 4096 ? Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length) : null,
            context.Connection.Id);
        context.Response.ContentType = "application/json";
        context.Response.Headers["x-service-header"] = "from-the-service";
        if (context.Request.Headers["x-answer-with-hop-header"] is [{ Length: > 0 } hop])
        {
            // A hop-by-hop header of the answer, named in Connection: no gateway may pass it on.
            context.Response.Headers.Connection = hop;
            context.Response.Headers[hop] = "must not cross";
        }

        await JsonSerializer.SerializeAsync(context.Response.Body, echo, RestJson.Options, context.RequestAborted);
    }

    public ValueTask DisposeAsync() => LoopbackApp.StopAsync(_app);
}

internal static class RestJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static async Task<RestEcho> ReadEchoAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync().DefaultTimeout();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200 from the service, got {(int)response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<RestEcho>(body, Options)!;
    }
}
