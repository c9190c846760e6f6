using System.Diagnostics;
using SiteX.Benchmarks.Infrastructure;
using SiteX.Samples.V1;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>large-message</c>: one huge unary Echo call (and the same bytes as a client stream of 1 MiB messages) through
/// two <c>sitex serve</c> processes (client, site 9999, site 10000, sample), interleaved with the same call straight
/// to the sample. Reports each gateway's RSS growth (targets F4: &lt; 64 MiB) and throughput as a ratio to direct.
/// </summary>
internal static class LargeMessageScenario
{
    public static async Task<int> RunAsync(BenchArgs options, CancellationToken ct)
    {
        var sizeMib = options.Int("size-mib", 256);
        var chunkMib = options.Int("chunk-mib", 1);
        var runs = options.Int("runs", 3);
        var stream = !options.Flag("no-stream");
        var size = checked(sizeMib * 1024 * 1024);

        Console.WriteLine($"# large-message: {sizeMib} MiB, {runs} interleaved runs, client stream of {chunkMib} MiB messages: {stream}");
        var (sampleProcess, samplePort) = await SampleMode.StartChildAsync("echo@10000");
        using var sample = sampleProcess;
        using var siteB = await SitexProcess.StartAsync("10000", RouteTables.Local("10000", "echo", samplePort));
        using var siteA = await SitexProcess.StartAsync("9999", RouteTables.ToPeer("9999", "10000", siteB.GrpcPort));
        Console.WriteLine($"sample pid {sample.Id} port {samplePort}; site 10000 pid {siteB.Id} port {siteB.GrpcPort}; site 9999 pid {siteA.Id} port {siteA.GrpcPort}");

        using var directChannel = EchoClients.Channel(samplePort);
        using var viaChannel = EchoClients.Channel(siteA.GrpcPort);
        var direct = new Echo.EchoClient(directChannel);
        var via = new Echo.EchoClient(viaChannel);
        var headers = EchoClients.Targeting("10000", "echo");

        await Task.Delay(1000, ct);
        var coldRss = new[] { ProcStats.Rss(siteA.Id), ProcStats.Rss(siteB.Id) };
        var payload = new byte[size];
        Random.Shared.NextBytes(payload);

        // Warm up: connections, JIT, and the gateways' pools, with a small message each way.
        for (var i = 0; i < 3; i++)
        {
            await EchoClients.UnaryLengthOnlyAsync(direct, null, payload.AsMemory(0, 64 * 1024));
            await EchoClients.UnaryLengthOnlyAsync(via, headers, payload.AsMemory(0, 64 * 1024));
            await EchoClients.ClientStreamLengthOnlyAsync(via, headers, payload.AsMemory(0, 4 * 1024 * 1024), chunkMib * 1024 * 1024);
        }

        await Task.Delay(500, ct);
        var gateways = new[] { ("9999", siteA.Id), ("10000", siteB.Id) };
        var variants = new List<(string Name, Func<Echo.EchoClient, Grpc.Core.Metadata?, Task> Call)>
        {
            ($"unary {sizeMib} MiB", (client, h) => EchoClients.UnaryLengthOnlyAsync(client, h, payload)),
        };
        if (stream)
        {
            variants.Add(($"client stream {sizeMib} x {chunkMib} MiB", (client, h) => EchoClients.ClientStreamLengthOnlyAsync(client, h, payload, chunkMib * 1024 * 1024)));
        }

        foreach (var (name, call) in variants)
        {
            var table = new MarkdownTable("variant", "run", "direct MB/s", "via 2 gateways MB/s", "ratio",
                "9999 baseline MiB", "9999 peak MiB", "9999 growth MiB", "10000 baseline MiB", "10000 peak MiB", "10000 growth MiB", "RSS samples");
            var ratios = new List<double>();
            var directRates = new List<double>();
            var viaRates = new List<double>();
            var growth = gateways.ToDictionary(g => g.Item1, _ => new List<double>());
            for (var run = 1; run <= runs; run++)
            {
                ct.ThrowIfCancellationRequested();
                Settle();
                var directSeconds = await TimeAsync(() => call(direct, null));
                Settle();

                var baselines = gateways.Select(g => ProcStats.Rss(g.Item2)).ToArray();
                foreach (var (_, pid) in gateways)
                {
                    ProcStats.ResetPeak(pid);
                }

                double viaSeconds;
                long[] peaks;
                int samples;
                using (var sampler = new RssSampler(gateways.Select(g => g.Item2).ToArray()))
                {
                    viaSeconds = await TimeAsync(() => call(via, headers));
                    samples = sampler.Samples;
                    peaks = gateways.Select(g => Math.Max(sampler.Peak(g.Item2), ProcStats.Hwm(g.Item2))).ToArray();
                }

                var directRate = size / 1e6 / directSeconds;
                var viaRate = size / 1e6 / viaSeconds;
                directRates.Add(directRate);
                viaRates.Add(viaRate);
                ratios.Add(viaRate / directRate);
                for (var g = 0; g < gateways.Length; g++)
                {
                    growth[gateways[g].Item1].Add((peaks[g] - baselines[g]) / (1024.0 * 1024.0));
                }

                table.Add(name, run.ToString(System.Globalization.CultureInfo.InvariantCulture), Stats.F(directRate, "0"), Stats.F(viaRate, "0"), Stats.F(viaRate / directRate, "0.00"),
                    Stats.Mib(baselines[0]), Stats.Mib(peaks[0]), Stats.Mib(peaks[0] - baselines[0]),
                    Stats.Mib(baselines[1]), Stats.Mib(peaks[1]), Stats.Mib(peaks[1] - baselines[1]), samples.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            table.Add(name, "**median**", Stats.F(Stats.Median(directRates), "0"), Stats.F(Stats.Median(viaRates), "0"), Stats.F(Stats.Median(ratios), "0.00"),
                "", "", Stats.F(Stats.Median(growth["9999"])), "", "", Stats.F(Stats.Median(growth["10000"])), "");
            table.Print();
        }

        Console.WriteLine($"RSS before any call (1 s after ready): site 9999 {Stats.Mib(coldRss[0])} MiB, site 10000 {Stats.Mib(coldRss[1])} MiB; growth from there to the highest peak: " +
            $"site 9999 {Stats.Mib(ProcStats.Hwm(siteA.Id) - coldRss[0])} MiB (VmHWM since the last reset), site 10000 {Stats.Mib(ProcStats.Hwm(siteB.Id) - coldRss[1])} MiB");
        Console.WriteLine($"RSS after the runs: site 9999 {Stats.Mib(ProcStats.Rss(siteA.Id))} MiB, site 10000 {Stats.Mib(ProcStats.Rss(siteB.Id))} MiB, sample {Stats.Mib(ProcStats.Rss(sample.Id))} MiB");
        return 0;
    }

    private static async Task<double> TimeAsync(Func<Task> call)
    {
        var start = Stopwatch.GetTimestamp();
        await call();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Lets the client's own garbage (serialised copies of the message) go before the next measurement.</summary>
    private static void Settle()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        Thread.Sleep(300);
    }
}
