using System.Globalization;
using Google.Protobuf;
using SiteX.Benchmarks.Infrastructure;
using SiteX.Samples.V1;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>unary</c>: a quick sanity look at small-call forwarding. C concurrent callers make N unary calls of a small
/// payload through one gateway (site 9999 with the sample as its local service <c>echo</c>) and straight to the
/// sample, in interleaved rounds. Servers are pinned to CPU 0 and this load generator to CPU 1 when possible.
/// </summary>
internal static class UnaryScenario
{
    private const int ServerCpu = 0;
    private const int ClientCpu = 1;

    public static async Task<int> RunAsync(BenchArgs options, CancellationToken ct)
    {
        var concurrency = options.Int("concurrency", 16);
        var count = options.Int("count", 20_000);
        var payloadBytes = options.Int("payload", 100);
        var rounds = options.Int("rounds", 3);
        var pin = !options.Flag("no-pin") && Cpu.CanPin && Cpu.PinSelf(ClientCpu);
        int? serverCpu = pin ? ServerCpu : null;
        Console.WriteLine($"# unary: {count} calls of {payloadBytes} B, {concurrency} concurrent on one channel, {rounds} interleaved rounds; " +
            (pin ? $"gateway and sample pinned to CPU {ServerCpu}, client to CPU {ClientCpu}" : "not pinned"));

        var (sampleProcess, samplePort) = await SampleMode.StartChildAsync("echo@9999", serverCpu);
        using var sample = sampleProcess;
        using var gateway = await SitexProcess.StartAsync("unary", RouteTables.Local("9999", "echo", samplePort), serverCpu);
        using var directChannel = EchoClients.Channel(samplePort);
        using var viaChannel = EchoClients.Channel(gateway.GrpcPort);
        var direct = new Echo.EchoClient(directChannel);
        var via = new Echo.EchoClient(viaChannel);
        var headers = EchoClients.Targeting("9999", "echo");
        var request = new EchoRequest { Payload = ByteString.CopyFrom(new byte[payloadBytes]) };

        // Warm up both paths before anything is measured: connections, and above all tiered JIT with dynamic PGO, which
        // recompiles hot methods in the background for several seconds (a short warm-up charges that JIT to the first rounds;
        // on this 2-core machine CPU per call settled only after about 100 000 calls per path).
        var warmup = options.Int("warmup", 150_000);
        for (var i = 0; i < 2; i++)
        {
            await UnaryLoad.RunAsync(direct, null, request, concurrency, Math.Max(warmup / 2, 1000), ct);
            await UnaryLoad.RunAsync(via, headers, request, concurrency, Math.Max(warmup / 2, 1000), ct);
        }

        await Quiescence.WaitAsync([gateway.Id, sample.Id], ct);

        var table = new MarkdownTable("round", "path", "calls/s", "p50 us", "p99 us", "gateway CPU us/call", "sample CPU us/call", "ratio to direct");
        var results = new Dictionary<string, List<Result>> { ["direct"] = [], ["via gateway"] = [] };
        for (var round = 1; round <= rounds; round++)
        {
            var order = round % 2 == 1 ? new[] { "direct", "via gateway" } : ["via gateway", "direct"];
            foreach (var path in order)
            {
                var isVia = path == "via gateway";
                var gatewayCpu = ProcStats.CpuTime(gateway.Id);
                var sampleCpu = ProcStats.CpuTime(sample.Id);
                var (seconds, latencies) = await UnaryLoad.RunAsync(isVia ? via : direct, isVia ? headers : null, request, concurrency, count, ct);
                await Quiescence.WaitAsync([gateway.Id, sample.Id], ct);
                var gatewayUs = (ProcStats.CpuTime(gateway.Id) - gatewayCpu).TotalMicroseconds / count;
                var sampleUs = (ProcStats.CpuTime(sample.Id) - sampleCpu).TotalMicroseconds / count;
                results[path].Add(new Result(count / seconds, Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99), gatewayUs, sampleUs));
            }

            var d = results["direct"][^1];
            var v = results["via gateway"][^1];
            table.Add(R(round), "direct", Stats.F(d.CallsPerSecond, "0"), Stats.F(d.P50, "0"), Stats.F(d.P99, "0"), Stats.F(d.GatewayUs, "0"), Stats.F(d.SampleUs, "0"), "1.00");
            table.Add(R(round), "via gateway", Stats.F(v.CallsPerSecond, "0"), Stats.F(v.P50, "0"), Stats.F(v.P99, "0"), Stats.F(v.GatewayUs, "0"), Stats.F(v.SampleUs, "0"), Stats.F(v.CallsPerSecond / d.CallsPerSecond, "0.00"));
        }

        foreach (var (path, list) in results)
        {
            var ratio = Stats.Median(results["via gateway"].Zip(results["direct"], (v, d) => v.CallsPerSecond / d.CallsPerSecond).ToArray());
            table.Add("**median**", path, Stats.F(Stats.Median(list.Select(r => r.CallsPerSecond).ToArray()), "0"), Stats.F(Stats.Median(list.Select(r => r.P50).ToArray()), "0"),
                Stats.F(Stats.Median(list.Select(r => r.P99).ToArray()), "0"), Stats.F(Stats.Median(list.Select(r => r.GatewayUs).ToArray()), "0"),
                Stats.F(Stats.Median(list.Select(r => r.SampleUs).ToArray()), "0"), path == "direct" ? "1.00" : Stats.F(ratio, "0.00"));
        }

        table.Print();
        Console.WriteLine($"gateway RSS after the run: {Stats.Mib(ProcStats.Rss(gateway.Id))} MiB; CPU per call is from /proc/PID/stat (10 ms ticks), after waiting for the servers to go quiet, so it includes work a run leaves behind (access log, GC)");
        return 0;
    }

    private static string R(int round) => round.ToString(CultureInfo.InvariantCulture);

    private sealed record Result(double CallsPerSecond, double P50, double P99, double GatewayUs, double SampleUs);
}
