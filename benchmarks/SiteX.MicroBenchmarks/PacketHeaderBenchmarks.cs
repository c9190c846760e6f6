using BenchmarkDotNet.Attributes;
using SiteX.Server.Forwarding;
using SiteX.Shared;
using Metadata = SiteX.Protocol.Eggroll.Proxy.Metadata;

namespace SiteX.MicroBenchmarks;

/// <summary>How <c>GrpcPlane</c> finds a DataTransferService call's destination: it peeks the first Packet's header off
/// the request pipe (without consuming it) and reads the destination from it.</summary>
[MemoryDiagnoser]
public class PacketHeaderPeekBenchmarks
{
    private ReplayPipeReader _reader = null!;

    /// <summary>The size of the Packet's body, after its header.</summary>
    [Params(1024, 1024 * 1024)]
    public int BodyBytes { get; set; }

    [GlobalSetup]
    public void Setup() => _reader = new ReplayPipeReader(HotPathInputs.Segmented(HotPathInputs.PacketFrame(BodyBytes)));

    /// <summary><see cref="PacketHeaderReader.PeekAsync"/> with the gateway's default header limit (4 MiB).</summary>
    [Benchmark]
    public async ValueTask<Metadata?> PeekAsync() =>
        (await PacketHeaderReader.PeekAsync(_reader, 4 * 1024 * 1024, CancellationToken.None)).Header;
}

/// <summary>What <c>GrpcPlane</c> then reads from the peeked header: the destination (from the <c>RollSiteHeader</c>
/// in <c>ext</c>), and on an inter-site port the claimed sources and the source role.</summary>
[MemoryDiagnoser]
public class PacketHeaderFieldsBenchmarks
{
    private Metadata _header = null!;

    [GlobalSetup]
    public void Setup()
    {
        var frame = HotPathInputs.PacketFrame(1024);
        PacketHeaderReader.TryParse(new(frame), 4096, out var header, out _);
        _header = header!;
    }

    /// <summary><see cref="PacketHeaderReader.TryGetDestination"/> of a push.</summary>
    [Benchmark]
    public string? TryGetDestination()
    {
        PacketHeaderReader.TryGetDestination(_header, isPush: true, out var party, out _, out _, out _);
        return party;
    }

    /// <summary>Everything the plane reads from the header of a push from a peer gateway
    /// (<see cref="PacketHeaderReader.TryRead"/>: the RollSiteHeader parsed once).</summary>
    [Benchmark]
    public (string? Party, string? Role, int Claims) DestinationSourcesAndRole_InterSite()
    {
        PacketHeaderReader.TryRead(_header, isPush: true, out var route, out _);
        var claims = 0;
        foreach (var _ in route.ClaimedSources())
        {
            claims++;
        }

        return (route.Party, route.SourceRole, claims);
    }
}
