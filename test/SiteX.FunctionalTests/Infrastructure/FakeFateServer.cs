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

/// <summary>
/// A stand-in for a Java OSX gateway's <c>PrivateTransferProtocol.invoke</c>, with OSX's own checks (wire-contract
/// 2.4, 2.5): an empty <c>x-ptp-tech-provider-code</c> fails the call with INTERNAL; no <c>x-ptp-target-node-id</c>
/// answers E0000000500; the uri keeps everything from the first '/' after "://"; a push uri decodes the payload as a
/// serialized PushInbound. Records each accepted push with its headers.
/// </summary>
internal sealed class OsxLikeInvokeService : SiteX.Protocol.Ptp.PrivateTransferProtocol.PrivateTransferProtocolBase
{
    public ConcurrentQueue<(Grpc.Core.Metadata Headers, SiteX.Protocol.Ptp.PushInbound Push)> Pushes { get; } = new();

    public override Task<SiteX.Protocol.Ptp.Outbound> invoke(SiteX.Protocol.Ptp.Inbound request, ServerCallContext context)
    {
        string? Header(string name) => context.RequestHeaders.GetValue(name);
        if (string.IsNullOrEmpty(Header("x-ptp-tech-provider-code")))
        {
            throw new RpcException(new Status(StatusCode.Internal, "techProviderCode is null"));
        }

        if (string.IsNullOrEmpty(Header("x-ptp-target-node-id")))
        {
            return Task.FromResult(new SiteX.Protocol.Ptp.Outbound { Code = "E0000000500", Message = "des party id is null" });
        }

        var uri = Header("x-ptp-uri") ?? "";
        var scheme = uri.IndexOf("://", StringComparison.Ordinal);
        var path = scheme < 0 ? uri : uri[uri.IndexOf('/', scheme + 3)..];
        if (path != "/org.ppc.ptp.PrivateTransferTransport/push")
        {
            return Task.FromResult(new SiteX.Protocol.Ptp.Outbound { Code = "", Message = "PARTY_10000:null" });
        }

        if (string.IsNullOrEmpty(Header("x-ptp-session-id")))
        {
            return Task.FromResult(new SiteX.Protocol.Ptp.Outbound { Code = "E0000000400", Message = "sessionId is null" });
        }

        Pushes.Enqueue((context.RequestHeaders, SiteX.Protocol.Ptp.PushInbound.Parser.ParseFrom(request.Payload)));
        return Task.FromResult(new SiteX.Protocol.Ptp.Outbound { Code = "E0000000000", Message = "success" });
    }
}

/// <summary>A <see cref="FakeDataTransferService"/> (and an <see cref="OsxLikeInvokeService"/>) on its own Kestrel (127.0.0.1, a free port, h2c).</summary>
internal sealed class FakeFateServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeFateServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
        Service = app.Services.GetRequiredService<FakeDataTransferService>();
        Osx = app.Services.GetRequiredService<OsxLikeInvokeService>();
    }

    public OsxLikeInvokeService Osx { get; }

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
        builder.Services.AddSingleton<OsxLikeInvokeService>();
        var app = builder.Build();
        app.MapGrpcService<FakeDataTransferService>();
        app.MapGrpcService<OsxLikeInvokeService>();
        var port = await LoopbackApp.StartAsync(app);
        return new FakeFateServer(app, port);
    }

    public ValueTask DisposeAsync() => LoopbackApp.StopAsync(_app);
}
