using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>One request a <see cref="FakeOsxHttpPeer"/> received: its request line, headers (names lower-case, values
/// as sent) and body bytes.</summary>
internal sealed record RecordedHttpRequest(string Method, string Path, string Protocol, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var value) ? value : null;
}

/// <summary>What a <see cref="FakeOsxHttpPeer"/> answers: an HTTP status, a content type and a body.</summary>
internal sealed record FakeHttpAnswer(int Status, string ContentType, string Body)
{
    /// <summary>A Java OSX's answer to a stored push.</summary>
    public static FakeHttpAnswer Success { get; } = new(200, "application/json;charset=UTF-8", """{"code":"E0000000000","message":"success"}""");
}

/// <summary>
/// A stand-in for a Java OSX gateway's HTTP/1.1 port (Jetty; wire-contract 2.8): a real Kestrel on 127.0.0.1, a free
/// port, HTTP/1.1 only. Records every request, whatever its path, and answers each with <see cref="Answer"/> (by
/// default OSX's success JSON).
/// </summary>
internal sealed class FakeOsxHttpPeer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeOsxHttpPeer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The url a route table gives for this peer: its interconnection invoke endpoint.</summary>
    public string InvokeUrl => $"http://127.0.0.1:{Port}/v1/interconn/chan/invoke";

    public ConcurrentQueue<RecordedHttpRequest> Requests { get; } = new();

    /// <summary>Chooses the answer to each request; may be replaced between calls.</summary>
    public Func<RecordedHttpRequest, FakeHttpAnswer> Answer { get; set; } = _ => FakeHttpAnswer.Success;

    public static async Task<FakeOsxHttpPeer> StartAsync(Action<ILoggingBuilder>? configureLogging = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "FakeOsxHttp" });
        builder.Logging.ClearProviders();
        configureLogging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        FakeOsxHttpPeer? peer = null;
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
            var request = new RecordedHttpRequest(context.Request.Method, context.Request.Path.Value ?? "", context.Request.Protocol, headers, body.ToArray());
            peer!.Requests.Enqueue(request);
            var answer = peer.Answer(request);
            context.Response.StatusCode = answer.Status;
            context.Response.ContentType = answer.ContentType;
            await context.Response.WriteAsync(answer.Body, context.RequestAborted);
        });
        var port = await LoopbackApp.StartAsync(app);
        peer = new FakeOsxHttpPeer(app, port);
        return peer;
    }

    public ValueTask DisposeAsync() => LoopbackApp.StopAsync(_app);
}
