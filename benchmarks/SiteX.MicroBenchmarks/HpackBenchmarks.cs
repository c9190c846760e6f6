using BenchmarkDotNet.Attributes;
using SiteX.Server.Forwarding.H2;
using SiteX.Shared;

namespace SiteX.MicroBenchmarks;

/// <summary>The h2 relay's header work per call: decoding the next hop's response headers and encoding a forwarded
/// request's.</summary>
[MemoryDiagnoser]
public class HpackBenchmarks
{
    private static readonly (string Name, string Value)[] s_request =
    [
        (":path", "/org.ppc.ptp.PrivateTransferProtocol/invoke"), (":authority", "10.0.0.2:9370"),
        ("content-type", "application/grpc"), ("te", "trailers"), ("grpc-timeout", "29999m"),
        ("x-ptp-source-node-id", HotPathInputs.SelfParty), ("x-ptp-target-node-id", HotPathInputs.KnownParty),
        ("x-ptp-target-component-name", "fateflow"), ("x-ptp-session-id", "202611281200000000001"),
        ("x-sitex-hops", "1"), ("x-sitex-via", "9999#a1b2c3d4"),
    ];

    private readonly HpackDecoder _decoder = new();
    private readonly NullHandler _handler = new();
    private readonly byte[] _output = new byte[4096];
    private byte[] _literals = null!;
    private byte[] _indexed = null!;

    [GlobalSetup]
    public void Setup()
    {
        _literals = HotPathInputs.GrpcResponseHeaders();
        _indexed = HotPathInputs.GrpcResponseHeadersIndexed();
        _decoder.Decode(_literals, _handler); // the dynamic table entries the indexed block refers to
    }

    /// <summary>A gRPC response's headers as Huffman-coded literals (inserting into the dynamic table, evicting).</summary>
    [Benchmark]
    public int Decode_Literals()
    {
        _decoder.Decode(_literals, _handler);
        return _handler.Count;
    }

    /// <summary>The same headers as dynamic table indexes (what a server sends after its first response).</summary>
    [Benchmark]
    public int Decode_Indexed()
    {
        _decoder.Decode(_indexed, _handler);
        return _handler.Count;
    }

    /// <summary>A PTP invoke's request headers (pseudo-headers, gRPC's and the x-ptp ones), as the relay sends them.</summary>
    [Benchmark]
    public int Encode_Request()
    {
        var span = _output.AsSpan();
        var written = HpackEncoder.WriteIndexed(3, span); // :method: POST
        written += HpackEncoder.WriteIndexed(6, span[written..]); // :scheme: http
        foreach (var (name, value) in s_request)
        {
            written += HpackEncoder.WriteHeader(name, value, span[written..]);
        }

        return written;
    }

    private sealed class NullHandler : IHpackHeaderHandler
    {
        public int Count { get; private set; }

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Count += name.Length + value.Length;
    }
}
