using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
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
        var variant = options.Environment("variant-env");
        var variantDll = options.String("variant-dll", "");
        var raw = options.Flag("raw-sample");
        var pin = !options.Flag("no-pin") && Cpu.CanPin && Cpu.PinSelf(ClientCpu);
        int? serverCpu = pin ? ServerCpu : null;
        Console.WriteLine($"# unary: {count} calls of {payloadBytes} B, {concurrency} concurrent on one channel, {rounds} interleaved rounds; " +
            (pin ? $"gateways and sample pinned to CPU {ServerCpu}, client to CPU {ClientCpu}" : "not pinned") +
            (variant.Count > 0 ? $"; variant gateway with {string.Join(",", variant.Select(p => $"{p.Key}={p.Value}"))}" : "") +
            (variantDll.Length > 0 ? $"; variant gateway {variantDll}" : "") +
            (raw ? "; the sample is the framework-free Kestrel echo (RawEchoHost)" : ""));

        var (sampleProcess, samplePort) = await SampleMode.StartChildAsync("echo@9999", serverCpu, raw);
        using var sample = sampleProcess;
        var table = RouteTables.Local("9999", "echo", samplePort);
        var paths = new List<Path> { new("direct", null, EchoClients.Channel(samplePort)) };
        try
        {
            var gateway = await SitexProcess.StartAsync("unary", table, serverCpu);
            paths.Add(new Path("via gateway", gateway, EchoClients.Channel(gateway.GrpcPort)));
            if (variant.Count > 0 || variantDll.Length > 0)
            {
                var other = await SitexProcess.StartAsync("unary-variant", table, serverCpu, environment: variant, dll: variantDll.Length > 0 ? variantDll : null);
                paths.Add(new Path("via variant", other, EchoClients.Channel(other.GrpcPort)));
            }

            return await MeasureAsync(paths, sample.Id, count, concurrency, payloadBytes, rounds, options.Int("warmup", 150_000), ct);
        }
        finally
        {
            foreach (var path in paths)
            {
                path.Channel.Dispose();
                path.Gateway?.Dispose();
            }
        }
    }

    private static async Task<int> MeasureAsync(List<Path> paths, int samplePid, int count, int concurrency, int payloadBytes, int rounds, int warmup, CancellationToken ct)
    {
        var headers = EchoClients.Targeting("9999", "echo");
        var request = new EchoRequest { Payload = ByteString.CopyFrom(new byte[payloadBytes]) };
        var servers = paths.Where(p => p.Gateway is not null).Select(p => p.Gateway!.Id).Append(samplePid).ToArray();

        // Warm up every path before anything is measured: connections, and above all tiered JIT with dynamic PGO, which
        // recompiles hot methods in the background for several seconds (a short warm-up charges that JIT to the first rounds;
        // on this 2-core machine CPU per call settled only after about 100 000 calls per path).
        for (var i = 0; i < 2; i++)
        {
            foreach (var path in paths)
            {
                await UnaryLoad.RunAsync(path.Client, path.Gateway is null ? null : headers, request, concurrency, Math.Max(warmup / 2, 1000), ct);
            }
        }

        await Quiescence.WaitAsync(servers, ct);

        var table = new MarkdownTable("round", "path", "calls/s", "p50 us", "p99 us", "gateway CPU us/call", "gateway B/call", "sample CPU us/call", "ratio to direct");
        var results = paths.ToDictionary(p => p.Name, _ => new List<Result>());
        for (var round = 1; round <= rounds; round++)
        {
            // Rotate the order every round, so no path always runs first (or right after the same other one).
            var order = paths.Skip((round - 1) % paths.Count).Concat(paths.Take((round - 1) % paths.Count)).ToList();
            foreach (var path in order)
            {
                var gateway = path.Gateway;
                var gatewayCpu = gateway is null ? TimeSpan.Zero : ProcStats.CpuTime(gateway.Id);
                var sampleCpu = ProcStats.CpuTime(samplePid);
                var allocated = gateway is null ? 0 : await GatewayMetricsReader.ReadAsync(gateway.AdminPort, GatewayMetricsReader.AllocatedBytes, ct);
                var (seconds, latencies) = await UnaryLoad.RunAsync(path.Client, gateway is null ? null : headers, request, concurrency, count, ct);
                await Quiescence.WaitAsync(servers, ct);
                var gatewayUs = gateway is null ? 0 : (ProcStats.CpuTime(gateway.Id) - gatewayCpu).TotalMicroseconds / count;
                var sampleUs = (ProcStats.CpuTime(samplePid) - sampleCpu).TotalMicroseconds / count;
                var bytesPerCall = gateway is null ? 0 : (await GatewayMetricsReader.ReadAsync(gateway.AdminPort, GatewayMetricsReader.AllocatedBytes, ct) - allocated) / count;
                results[path.Name].Add(new Result(count / seconds, Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99), gatewayUs, bytesPerCall, sampleUs));
            }

            var direct = results["direct"][^1];
            foreach (var path in paths)
            {
                var r = results[path.Name][^1];
                table.Add(R(round), path.Name, Stats.F(r.CallsPerSecond, "0"), Stats.F(r.P50, "0"), Stats.F(r.P99, "0"), Stats.F(r.GatewayUs, "0"), Stats.F(r.GatewayBytes, "0"),
                    Stats.F(r.SampleUs, "0"), Stats.F(r.CallsPerSecond / direct.CallsPerSecond, "0.00"));
            }
        }

        foreach (var (path, list) in results)
        {
            var ratio = Stats.Median(list.Zip(results["direct"], (v, d) => v.CallsPerSecond / d.CallsPerSecond).ToArray());
            table.Add("**median**", path, Stats.F(Stats.Median(list.Select(r => r.CallsPerSecond).ToArray()), "0"), Stats.F(Stats.Median(list.Select(r => r.P50).ToArray()), "0"),
                Stats.F(Stats.Median(list.Select(r => r.P99).ToArray()), "0"), Stats.F(Stats.Median(list.Select(r => r.GatewayUs).ToArray()), "0"),
                Stats.F(Stats.Median(list.Select(r => r.GatewayBytes).ToArray()), "0"), Stats.F(Stats.Median(list.Select(r => r.SampleUs).ToArray()), "0"), Stats.F(ratio, "0.00"));
        }

        table.Print();
        foreach (var path in paths.Where(p => p.Gateway is not null))
        {
            Console.WriteLine($"{path.Name}: RSS after the run {Stats.Mib(ProcStats.Rss(path.Gateway!.Id))} MiB");
        }

        Console.WriteLine("CPU per call is from /proc/PID/stat (10 ms ticks), after waiting for the servers to go quiet, so it includes work a run leaves behind (access log, GC); " +
            "bytes per call from the gateway's dotnet_gc_heap_total_allocated_bytes_total (/metrics)");
        return 0;
    }

    private static string R(int round) => round.ToString(CultureInfo.InvariantCulture);

    /// <summary>One way to the sample: straight, or through a gateway.</summary>
    private sealed record Path(string Name, SitexProcess? Gateway, Grpc.Net.Client.GrpcChannel Channel)
    {
        public Echo.EchoClient Client { get; } = new(Channel);
    }

    private sealed record Result(double CallsPerSecond, double P50, double P99, double GatewayUs, double GatewayBytes, double SampleUs);
}
