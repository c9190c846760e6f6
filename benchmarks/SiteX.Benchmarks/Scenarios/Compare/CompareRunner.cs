using Google.Protobuf;
using Grpc.Core;
using SiteX.Benchmarks.Infrastructure;
using SiteX.Samples.V1;

namespace SiteX.Benchmarks.Scenarios.Compare;

/// <summary>
/// Drives the load of the <c>compare</c> scenario: warm-up, a probe of every path at each size, then interleaved rounds
/// whose order rotates by one path per round, waiting after each run until the servers are quiet so the CPU a run
/// leaves behind (log flushes, GC) is charged to it.
/// </summary>
internal sealed class CompareRunner(CompareTopology topology, CompareOptions options, ReportWriter report)
{
    private static readonly Metadata s_headers = EchoClients.Targeting(CompareTopology.Party, CompareTopology.Service);

    /// <summary>
    /// Tiered JIT and dynamic PGO keep recompiling a .NET server's hot methods for about 100 000 calls (docs/benchmarks.md,
    /// section 4); until then its CPU per call reads several times too high. So each SiteX path gets
    /// <see cref="CompareOptions.Warmup"/> small calls, the others (native proxies, and the sample, which every path warms)
    /// <see cref="CompareOptions.PeerWarmup"/>, in two alternating passes.
    /// </summary>
    public async Task WarmUpAsync(CancellationToken ct)
    {
        var request = Request(100);
        foreach (var path in topology.Paths.ToArray())
        {
            await ProbeAsync(path, request, ct);
        }

        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var path in topology.Paths)
            {
                var calls = Math.Max((path.IsSitex ? options.Warmup : options.PeerWarmup) / 2, options.Concurrency);
                await UnaryLoad.RunAsync(path.Client, s_headers, request, options.Concurrency, calls, ct);
            }
        }
    }

    /// <summary>Measures every path at <paramref name="size"/> bytes, <paramref name="count"/> calls per run.</summary>
    public async Task<IReadOnlyList<CompareRun>> MeasureAsync(int size, int count, CancellationToken ct)
    {
        var request = Request(size);
        foreach (var path in topology.Paths.ToArray())
        {
            await ProbeAsync(path, request, ct);
        }

        // At this size, a fifth of a run per path: connection windows, buffer pools and the proxies' buffers grow.
        foreach (var path in topology.Paths)
        {
            await UnaryLoad.RunAsync(path.Client, s_headers, request, options.Concurrency, Math.Max(count / 5, options.Concurrency), ct);
        }

        await Quiescence.WaitAsync(topology.ServersCpu, ct);
        var runs = new List<CompareRun>();
        var paths = topology.Paths;
        for (var round = 1; round <= options.Rounds; round++)
        {
            var load = Machine.Load1();
            for (var i = 0; i < paths.Count; i++)
            {
                var path = paths[(i + round - 1) % paths.Count];
                runs.Add(await MeasureOneAsync(path, request, size, count, round, load, ct));
            }

            Console.Error.WriteLine($"compare: {Size(size)} round {round}/{options.Rounds} done (load {Machine.LoadAverages()})");
        }

        return runs;
    }

    public static string Size(int bytes) => bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB"
        : bytes >= 1024 && bytes % 1024 == 0 ? $"{bytes / 1024} KiB" : $"{bytes} B";

    private async Task<CompareRun> MeasureOneAsync(ComparePath path, EchoRequest request, int size, int count, int round, string load, CancellationToken ct)
    {
        var gatewayBefore = path.GatewayCpu?.Invoke();
        var sampleBefore = topology.SampleCpu();
        var (seconds, latencies) = await UnaryLoad.RunAsync(path.Client, s_headers, request, options.Concurrency, count, ct);
        await Quiescence.WaitAsync(topology.ServersCpu, ct);
        double? gatewayUs = gatewayBefore is { } before ? (path.GatewayCpu!() - before).TotalMicroseconds / count : null;
        var sampleUs = (topology.SampleCpu() - sampleBefore).TotalMicroseconds / count;
        var sorted = latencies.Order().ToArray();
        return new CompareRun(size, round, load, path.Name, count / seconds,
            Stats.Percentile(sorted, 50), Stats.Percentile(sorted, 99), Stats.Percentile(sorted, 99.9), gatewayUs, sampleUs);
    }

    /// <summary>One call, whose reply must account for the whole payload; a path that fails it is reported and dropped.</summary>
    private async Task ProbeAsync(ComparePath path, EchoRequest request, CancellationToken ct)
    {
        try
        {
            var reply = await path.Client.UnaryAsync(request, s_headers, DateTime.UtcNow.AddSeconds(30), ct);
            var received = options.LengthOnly ? reply.PayloadLength : reply.Payload.Length;
            if (received != request.Payload.Length)
            {
                throw new InvalidOperationException($"the reply accounts for {received} bytes, {request.Payload.Length} were sent");
            }
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException)
        {
            report.Line($"**{path.Label} dropped**: a {Size(request.Payload.Length)} call failed: {e.Message}");
            topology.Drop(path);
        }
    }

    private EchoRequest Request(int size) => new()
    {
        Payload = ByteString.CopyFrom(new byte[size]),
        Text = options.LengthOnly ? EchoClients.LengthOnly : "",
    };
}
