using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace SiteX.Samples;

/// <summary>
/// Starts the sample Echo service on a real Kestrel server: one cleartext HTTP/2-only (h2c) endpoint with no message or
/// body size limits, serving <c>sitex.samples.v1.Echo</c> and <c>GET /hello</c>.
/// </summary>
public static class SampleHost
{
    private const int ConnectionWindowSize = 16 * 1024 * 1024;
    private const int StreamWindowSize = 8 * 1024 * 1024;

    /// <summary>Starts a sample server named <paramref name="name"/> on <paramref name="address"/> (loopback by default).</summary>
    /// <param name="name">Reported in <c>EchoReply.served_by</c>.</param>
    /// <param name="port">The port to listen on; 0 picks a free one.</param>
    /// <param name="address">The address to listen on; 127.0.0.1 when null.</param>
    /// <param name="ct">Cancels the start.</param>
    public static Task<RunningSample> StartAsync(string name, int port = 0, IPAddress? address = null, CancellationToken ct = default) =>
        StartAsync(new SampleHostOptions { Name = name, Port = port, Address = address ?? IPAddress.Loopback }, ct);

    /// <summary>Starts a sample server as <paramref name="options"/> say.</summary>
    public static async Task<RunningSample> StartAsync(SampleHostOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);

        // The empty builder reads no appsettings, environment variables or ASPNETCORE_URLS, and watches no files.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(SampleHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
            kestrel.Limits.Http2.InitialConnectionWindowSize = ConnectionWindowSize;
            kestrel.Limits.Http2.InitialStreamWindowSize = StreamWindowSize;
            kestrel.Listen(options.Address, options.Port, listen => listen.Protocols = HttpProtocols.Http2);
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);
        options.ConfigureLogging?.Invoke(builder.Logging);
        builder.Services.AddEchoSample(echo => echo.Name = options.Name);

        var app = builder.Build();
        app.MapEchoSample();
        try
        {
            await app.StartAsync(ct);
            var port = BoundPort(app);
            return new RunningSample(app, options.Name, new IPEndPoint(options.Address, port));
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private static int BoundPort(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var address = addresses?.FirstOrDefault()
            ?? throw new InvalidOperationException("Kestrel started without reporting the address it is bound to.");
        return new Uri(address).Port;
    }
}
