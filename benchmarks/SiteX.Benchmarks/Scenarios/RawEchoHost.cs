using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// The Echo sample's unary call with no framework: Kestrel (h2c, the sample's limits) and one request delegate that
/// sends the request's bytes back as the response with <c>grpc-status: 0</c>. An <c>EchoRequest</c>'s fields (payload,
/// text) read as the same <c>EchoReply</c> fields, so an Echo client gets its payload back. Its CPU per call is what
/// Kestrel's HTTP/2 server costs on its own: the floor of any gateway built on it (one Kestrel server half per hop).
/// </summary>
internal static class RawEchoHost
{
    public static async Task<(WebApplication App, int Port)> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "raw-echo" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
            kestrel.Limits.Http2.InitialConnectionWindowSize = 16 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 8 * 1024 * 1024;
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        app.Run(EchoAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return (app, new Uri(address).Port);
    }

    private static async Task EchoAsync(HttpContext context)
    {
        var reader = context.Request.BodyReader;
        ReadResult read;
        while (true)
        {
            read = await reader.ReadAsync(context.RequestAborted);
            if (read.IsCompleted)
            {
                break;
            }

            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }

        context.Response.ContentType = "application/grpc";
        context.Response.AppendTrailer("grpc-status", "0");
        foreach (var segment in read.Buffer)
        {
            context.Response.BodyWriter.Write(segment.Span);
        }

        reader.AdvanceTo(read.Buffer.End);
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }
}
