using SiteX.Server.Forwarding.H2;
using SiteX.Server.Tests.Performance;
using SiteX.Shared;

namespace SiteX.Server.Tests.Forwarding.H2;

/// <summary><see cref="HpackDecoder.Decode"/> stays within <see cref="AllocationBudgets.HpackDecode"/>, counted as the
/// hot-path budgets are (<see cref="AllocationMeter"/>).</summary>
public sealed class HpackDecoderAllocationTests
{
    [BudgetFact]
    public void Decode_GrpcResponseHeaders_AllocatesNothing()
    {
        // Arrange: what a gRPC server's encoder sends first (":status: 200" indexed, the other fields Huffman-coded
        // literals with incremental indexing, so each decode inserts three entries and the table keeps evicting and
        // compacting), then the same fields as dynamic table indexes; the micro-benchmark's input.
        var literals = HotPathInputs.GrpcResponseHeaders();
        var indexed = HotPathInputs.GrpcResponseHeadersIndexed();
        var decoder = new HpackDecoder();
        var handler = new CountingHandler();
        var expected = new RecordingHeaderHandler();
        decoder.Decode(literals, expected);
        decoder.Decode(indexed, expected);

        // Act
        var bytes = AllocationMeter.PerOperation(() =>
        {
            decoder.Decode(literals, handler);
            decoder.Decode(indexed, handler);
        });

        // Assert
        (string, string)[] fields = [(":status", "200"), ("content-type", "application/grpc"), ("grpc-encoding", "identity"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT")];
        Assert.Equal([.. fields, .. fields], expected.Headers);
        Assert.Equal(2 * (AllocationMeter.WarmUp + (AllocationMeter.Rounds * AllocationMeter.Operations)) * fields.Sum(f => f.Item1.Length + f.Item2.Length), handler.Bytes);
        AllocationMeter.AssertWithin("HpackDecoder.Decode", bytes, AllocationBudgets.HpackDecode);
    }

    private sealed class CountingHandler : IHpackHeaderHandler
    {
        public long Bytes { get; private set; }

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Bytes += name.Length + value.Length;
    }
}
