using Google.Protobuf;
using Grpc.Core;
using Metadata = Grpc.Core.Metadata;
using Grpc.Net.Client;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>
/// Two <c>sitex serve</c> processes for the queue scenarios: site A (party 9999) routes party 10000 to B's gRPC port
/// and B (party 10000) routes 9999 to A's. One long-lived channel per site; every call of a scenario shares it.
/// </summary>
internal sealed class QueueSites : IDisposable
{
    public const string PartyA = "9999";
    public const string PartyB = "10000";

    private QueueSites(SitexProcess a, SitexProcess b)
    {
        A = a;
        B = b;
        ChannelA = EchoClients.Channel(a.GrpcPort);
        ChannelB = EchoClients.Channel(b.GrpcPort);
        ClientA = new PrivateTransferTransport.PrivateTransferTransportClient(ChannelA);
        ClientB = new PrivateTransferTransport.PrivateTransferTransportClient(ChannelB);
    }

    public SitexProcess A { get; }
    public SitexProcess B { get; }
    public GrpcChannel ChannelA { get; }
    public GrpcChannel ChannelB { get; }
    public PrivateTransferTransport.PrivateTransferTransportClient ClientA { get; }
    public PrivateTransferTransport.PrivateTransferTransportClient ClientB { get; }

    public static async Task<QueueSites> StartAsync(string name)
    {
        // B first with a placeholder route back to A (A's port is not known yet), then the real one once A runs.
        var b = await SitexProcess.StartAsync($"{name}-{PartyB}", RouteTables.ToPeer(PartyB, PartyA, 9));
        SitexProcess? a = null;
        try
        {
            a = await SitexProcess.StartAsync($"{name}-{PartyA}", RouteTables.ToPeer(PartyA, PartyB, b.GrpcPort));
            b.ReplaceRouteTable(RouteTables.ToPeer(PartyB, PartyA, a.GrpcPort));
            await Task.Delay(500); // the reload takes about 20 ms (docs/benchmarks.md, reload)
            return new QueueSites(a, b);
        }
        catch
        {
            a?.Dispose();
            b.Dispose();
            throw;
        }
    }

    /// <summary>Headers of a push from party 9999 for <paramref name="target"/>, or of a pop (no target).</summary>
    public static Metadata Headers(string session, string? target) => target is null
        ? new Metadata { { PtpHeaders.SessionId, session } }
        : new Metadata { { PtpHeaders.SessionId, session }, { PtpHeaders.TargetNodeId, target }, { PtpHeaders.SourceNodeId, PartyA } };

    public static async Task PushAsync(PrivateTransferTransport.PrivateTransferTransportClient client, Metadata headers, string topic, ByteString payload, CancellationToken ct)
    {
        var reply = await client.pushAsync(new PushInbound { Topic = topic, Payload = payload }, headers, DateTime.UtcNow.AddSeconds(60), ct);
        if (reply.Code != PtpCodes.Success)
        {
            throw new InvalidOperationException($"push to {topic} answered {reply.Code} {reply.Message}");
        }
    }

    /// <summary>Pops one message, waiting up to <paramref name="timeoutMs"/>; null when the pop timed out.</summary>
    public static async Task<ByteString?> PopAsync(PrivateTransferTransport.PrivateTransferTransportClient client, Metadata headers, string topic, int timeoutMs, CancellationToken ct)
    {
        var reply = await client.popAsync(new PopInbound { Topic = topic, Timeout = timeoutMs }, headers, DateTime.UtcNow.AddMilliseconds(timeoutMs + 30_000), ct);
        return reply.Code switch
        {
            PtpCodes.Success => reply.Payload,
            PtpCodes.Timeout => null,
            _ => throw new InvalidOperationException($"pop of {topic} answered {reply.Code} {reply.Message}"),
        };
    }

    /// <summary>Waits (up to 5 s) until both gateways stop using CPU, so work a run leaves behind is charged to it.</summary>
    public Task QuiesceAsync(CancellationToken ct) => Quiescence.WaitAsync([A.Id, B.Id], ct);

    public void Dispose()
    {
        ChannelA.Dispose();
        ChannelB.Dispose();
        A.Dispose();
        B.Dispose();
    }
}
