using System.Buffers;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using SiteX.Benchmarks.Infrastructure;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>http-sink</c>: a plain HTTP/1.1 service on 127.0.0.1 (Kestrel, no body limits) until SIGTERM, after printing
/// <c>Sink ready: port N</c>. A request with a body is read and discarded (the answer is the byte count); a GET with
/// <c>?bytes=N</c> is answered with N bytes and a Content-Length. The scenarios start it as a child process.
/// </summary>
internal static partial class HttpSinkMode
{
    private const string ReadyText = "Sink ready: port ";
    private const int ChunkBytes = 256 * 1024;

    public static async Task<int> RunAsync()
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stopped.TrySetResult();
        });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            stopped.TrySetResult();
        });

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "http-sink" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
        });
        await using var app = builder.Build();
        var payload = new byte[ChunkBytes];
        Random.Shared.NextBytes(payload);
        app.Run(context => HandleAsync(context, payload));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine(ReadyText + new Uri(address).Port.ToString(CultureInfo.InvariantCulture));
        await stopped.Task;
        await app.StopAsync();
        return 0;
    }

    private static async Task HandleAsync(HttpContext context, byte[] payload)
    {
        if (HttpMethods.IsGet(context.Request.Method))
        {
            var bytes = long.Parse(context.Request.Query["bytes"].ToString(), CultureInfo.InvariantCulture);
            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = bytes;
            for (long sent = 0; sent < bytes;)
            {
                var count = (int)Math.Min(payload.Length, bytes - sent);
                await context.Response.Body.WriteAsync(payload.AsMemory(0, count), context.RequestAborted);
                sent += count;
            }

            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        long total = 0;
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                total += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(total.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Starts this program again in <c>http-sink</c> mode and returns the child and its port.</summary>
    public static async Task<(ChildProcess Process, int Port)> StartChildAsync(int? cpu = null)
    {
        var child = ChildProcess.StartDotnet(ChildProcess.BenchmarksDll, ["http-sink"], cpu);
        try
        {
            var (line, _) = await child.WaitForLineAsync(ReadyText, SitexProcess.StartTimeout);
            return (child, int.Parse(PortPattern().Match(line).Groups[1].Value, CultureInfo.InvariantCulture));
        }
        catch
        {
            child.Dispose();
            throw;
        }
    }

    [GeneratedRegex(@"port (\d+)")]
    private static partial Regex PortPattern();
}
