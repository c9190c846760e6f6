using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using SiteX.Protocol.Ptp;
using SiteX.Server.Queues;

namespace SiteX.MicroBenchmarks;

/// <summary>
/// Reading what a gateway needs from a serialized queue push (topic, message id, the payload's place): the plain field
/// walk of <see cref="PushView"/> against parsing the <c>PushInbound</c> with the generated parser, which copies the
/// payload. The push is the one of the allocation budget test (a 23-character topic, <c>msgFlag</c> and <c>msgId</c>
/// in the metadata).
/// </summary>
[MemoryDiagnoser]
public class PushReadBenchmarks
{
    private byte[] _serialized = [];

    [Params(1024, 1024 * 1024)]
    public int PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var push = new PushInbound { Topic = "202611290001-fate-topic", Payload = ByteString.CopyFrom(new byte[PayloadBytes]) };
        push.Metadata["msgFlag"] = "flag";
        push.Metadata["msgId"] = "msg-000001";
        _serialized = push.ToByteArray();
    }

    [Benchmark(Baseline = true)]
    public string? ParsePushInbound() => MessageIds.Of(PushInbound.Parser.ParseFrom(_serialized));

    [Benchmark]
    public string? PushViewTryRead() => PushView.TryRead(_serialized, out var view) ? view.MessageId(_serialized) : null;
}
