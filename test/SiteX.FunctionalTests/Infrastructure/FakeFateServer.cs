using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SiteX.Protocol.Eggroll.Proxy;
using Task = System.Threading.Tasks.Task;
using PacketMetadata = SiteX.Protocol.Eggroll.Proxy.Metadata;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// A stand-in for FATE-Flow's or FATE-Serving's gRPC port (the far end of <c>DataTransferService</c>): unaryCall
/// answers like FATE-Flow's <c>UnaryService</c> (src and dst swapped, body echoed); push answers like OSX's local
/// sink (the first packet's Metadata with <c>ack</c> = its <c>seq</c>). Counts what arrived.
/// </summary>
internal sealed class FakeDataTransferService : DataTransferService.DataTransferServiceBase
{
    private int _unaryCalls;
    private int _pushCalls;
    private long _pushPackets;

    public int UnaryCalls => Volatile.Read(ref _unaryCalls);

    public int PushCalls => Volatile.Read(ref _pushCalls);

    public long PushPackets => Interlocked.Read(ref _pushPackets);

    /// <summary>Request headers of every call, in arrival order.</summary>
    public ConcurrentQueue<Grpc.Core.Metadata> RequestHeaders { get; } = new();

    public override Task<Packet> unaryCall(Packet request, ServerCallContext context)
    {
        Interlocked.Increment(ref _unaryCalls);
        RequestHeaders.Enqueue(context.RequestHeaders);
        var reply = request.Clone();
        reply.Header ??= new PacketMetadata();
        reply.Header.Src = request.Header?.Dst;
        reply.Header.Dst = request.Header?.Src;
        return Task.FromResult(reply);
    }

    public override async Task<PacketMetadata> push(IAsyncStreamReader<Packet> requestStream, ServerCallContext context)
    {
        Interlocked.Increment(ref _pushCalls);
        RequestHeaders.Enqueue(context.RequestHeaders);
        PacketMetadata? first = null;
        await foreach (var packet in requestStream.ReadAllAsync(context.CancellationToken))
        {
            Interlocked.Increment(ref _pushPackets);
            first ??= packet.Header ?? new PacketMetadata();
        }

        var reply = first?.Clone() ?? new PacketMetadata();
        reply.Ack = reply.Seq;
        return reply;
    }
}

/// <summary>A <see cref="FakeDataTransferService"/> on its own Kestrel (127.0.0.1, a free port, h2c).</summary>
internal sealed class FakeFateServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeFateServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
        Service = app.Services.GetRequiredService<FakeDataTransferService>();
    }

    public int Port { get; }

    public FakeDataTransferService Service { get; }

    public static async Task<FakeFateServer> StartAsync(Action<ILoggingBuilder>? configureLogging = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "FakeFate" });
        builder.Logging.ClearProviders();
        configureLogging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<FakeDataTransferService>();
        var app = builder.Build();
        app.MapGrpcService<FakeDataTransferService>();
        try
        {
            await app.StartAsync().DefaultTimeout();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new FakeFateServer(app, new Uri(address).Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().DefaultTimeout();
        await _app.DisposeAsync();
    }
}
