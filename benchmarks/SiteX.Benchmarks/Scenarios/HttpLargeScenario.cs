using System.Diagnostics;
using System.Globalization;
using System.Net;
using SiteX.Benchmarks.Infrastructure;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>http-large</c>: one huge plain HTTP body up (POST) and one down (GET) through two <c>sitex serve</c> processes
/// (client at site 9999's HTTP port, site 10000 forwarding to an HTTP/1.1 sink in its own process), interleaved with
/// the same request straight to the sink. Gateway A reaches B over B's gRPC port (h2c) and, from a second A, over B's
/// HTTP port. Reports MB/s, the ratio to direct, each gateway's RSS growth during the call (target F4: &lt; 64 MiB) and
/// each gateway's CPU seconds per GiB.
/// </summary>
internal static class HttpLargeScenario
{
    private const int ChunkBytes = 256 * 1024;

    public static async Task<int> RunAsync(BenchArgs options, CancellationToken ct)
    {
        var sizeMib = options.Int("size-mib", 1024);
        var runs = options.Int("runs", 3);
        var chunked = options.Flag("chunked");
        var peers = options.String("peer", "grpc,http").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var size = sizeMib * 1024L * 1024;

        Console.WriteLine($"# http-large: {sizeMib} MiB up and down, {runs} interleaved runs, upload {(chunked ? "chunked" : "with Content-Length")}, A reaches B over: {string.Join(", ", peers)}");
        var (sinkProcess, sinkPort) = await HttpSinkMode.StartChildAsync();
        using var sink = sinkProcess;
        using var siteB = await SitexProcess.StartAsync("10000", RouteTables.LocalHttp("10000", "web", $"http://127.0.0.1:{sinkPort}/sink"));
        var sites = new List<(string Peer, SitexProcess A)>();
        try
        {
            foreach (var peer in peers)
            {
                var routes = peer == "http"
                    ? RouteTables.ToPeerHttp("9999", "10000", $"http://127.0.0.1:{siteB.HttpPort}/v1/interconn/chan/invoke")
                    : RouteTables.ToPeer("9999", "10000", siteB.GrpcPort);
                sites.Add((peer, await SitexProcess.StartAsync($"9999-{peer}", routes)));
            }

            Console.WriteLine($"sink pid {sink.Id} port {sinkPort}; site 10000 pid {siteB.Id} gRPC {siteB.GrpcPort} HTTP {siteB.HttpPort}; " +
                string.Join("; ", sites.Select(s => $"site 9999 (to B over {s.Peer}) pid {s.A.Id} HTTP {s.A.HttpPort}")));

            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
            var direct = new Uri($"http://127.0.0.1:{sinkPort}/sink/data");
            await Task.Delay(1000, ct);
            var cold = sites.Select(s => ProcStats.Rss(s.A.Id)).Append(ProcStats.Rss(siteB.Id)).ToArray();

            // Warm up: connections, JIT and pools on every path.
            for (var i = 0; i < 3; i++)
            {
                await UploadAsync(http, direct, null, 16L * 1024 * 1024, chunked, ct);
                await DownloadAsync(http, direct, null, 16L * 1024 * 1024, ct);
                foreach (var (_, a) in sites)
                {
                    await UploadAsync(http, ViaA(a), "10000", 16L * 1024 * 1024, chunked, ct);
                    await DownloadAsync(http, ViaA(a), "10000", 16L * 1024 * 1024, ct);
                }
            }

            var table = new MarkdownTable("variant", "A to B over", "run", "direct MB/s", "via 2 gateways MB/s", "ratio",
                "9999 growth MiB", "10000 growth MiB", "9999 peak MiB", "10000 peak MiB", "9999 CPU s/GiB", "10000 CPU s/GiB");
            var results = new Dictionary<(string, string), List<(double Direct, double Via, double GrowthA, double GrowthB, double CpuA, double CpuB)>>();
            foreach (var run in Enumerable.Range(1, runs))
            {
                foreach (var direction in new[] { "upload", "download" })
                {
                    foreach (var (peer, a) in sites)
                    {
                        ct.ThrowIfCancellationRequested();
                        Func<Uri, string?, Task> call = direction == "upload"
                            ? (uri, target) => UploadAsync(http, uri, target, size, chunked, ct)
                            : (uri, target) => DownloadAsync(http, uri, target, size, ct);
                        var directSeconds = await TimeAsync(() => call(direct, null));

                        var gateways = new[] { a.Id, siteB.Id };
                        var baselines = gateways.Select(ProcStats.Rss).ToArray();
                        var cpuBefore = gateways.Select(ProcStats.CpuTime).ToArray();
                        foreach (var pid in gateways)
                        {
                            ProcStats.ResetPeak(pid);
                        }

                        double viaSeconds;
                        long[] peaks;
                        using (var sampler = new RssSampler(gateways))
                        {
                            viaSeconds = await TimeAsync(() => call(ViaA(a), "10000"));
                            peaks = gateways.Select(pid => Math.Max(sampler.Peak(pid), ProcStats.Hwm(pid))).ToArray();
                        }

                        var cpu = gateways.Select((pid, i) => (ProcStats.CpuTime(pid) - cpuBefore[i]).TotalSeconds / (size / (1024.0 * 1024 * 1024))).ToArray();
                        var sample = (size / 1e6 / directSeconds, size / 1e6 / viaSeconds, (peaks[0] - baselines[0]) / 1048576.0, (peaks[1] - baselines[1]) / 1048576.0, cpu[0], cpu[1]);
                        (results.TryGetValue((direction, peer), out var list) ? list : results[(direction, peer)] = []).Add(sample);
                        table.Add($"{direction} {sizeMib} MiB", peer, run.ToString(CultureInfo.InvariantCulture), Stats.F(sample.Item1, "0"), Stats.F(sample.Item2, "0"),
                            Stats.F(sample.Item2 / sample.Item1, "0.00"), Stats.F(sample.Item3), Stats.F(sample.Item4), Stats.Mib(peaks[0]), Stats.Mib(peaks[1]),
                            Stats.F(sample.Item5, "0.00"), Stats.F(sample.Item6, "0.00"));
                    }
                }
            }

            foreach (var ((direction, peer), list) in results)
            {
                table.Add($"{direction} {sizeMib} MiB", peer, "**median**", Stats.F(Stats.Median([.. list.Select(r => r.Direct)]), "0"), Stats.F(Stats.Median([.. list.Select(r => r.Via)]), "0"),
                    Stats.F(Stats.Median([.. list.Select(r => r.Via / r.Direct)]), "0.00"), Stats.F(Stats.Median([.. list.Select(r => r.GrowthA)])), Stats.F(Stats.Median([.. list.Select(r => r.GrowthB)])),
                    "", "", Stats.F(Stats.Median([.. list.Select(r => r.CpuA)]), "0.00"), Stats.F(Stats.Median([.. list.Select(r => r.CpuB)]), "0.00"));
            }

            table.Print();
            var names = sites.Select(s => $"site 9999 (over {s.Peer})").Append("site 10000").ToArray();
            var pids = sites.Select(s => s.A.Id).Append(siteB.Id).ToArray();
            Console.WriteLine("RSS 1 s after ready, before any call: " + string.Join(", ", names.Select((n, i) => $"{n} {Stats.Mib(cold[i])} MiB")));
            Console.WriteLine("RSS after the runs: " + string.Join(", ", names.Select((n, i) => $"{n} {Stats.Mib(ProcStats.Rss(pids[i]))} MiB")) + $", sink {Stats.Mib(ProcStats.Rss(sink.Id))} MiB");
            return 0;
        }
        finally
        {
            foreach (var (_, a) in sites)
            {
                a.Dispose();
            }
        }
    }

    private static Uri ViaA(SitexProcess a) => new($"http://127.0.0.1:{a.HttpPort}/data");

    private static async Task UploadAsync(HttpClient http, Uri uri, string? target, long size, bool chunked, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new RepeatingContent(size, declareLength: !chunked) };
        AddTarget(request, target);
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode != HttpStatusCode.OK || text != size.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"upload to {uri}: {(int)response.StatusCode} {text}");
        }
    }

    private static async Task DownloadAsync(HttpClient http, Uri uri, string? target, long size, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{uri}?bytes={size}"));
        AddTarget(request, target);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"download from {uri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }

        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[ChunkBytes];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, ct)) > 0)
        {
            total += read;
        }

        if (total != size)
        {
            throw new InvalidOperationException($"download from {uri}: {total} bytes, expected {size}");
        }
    }

    private static void AddTarget(HttpRequestMessage request, string? target)
    {
        if (target is not null)
        {
            request.Headers.Add("x-ptp-target-node-id", target);
            request.Headers.Add("x-ptp-target-component-name", "web");
        }
    }

    private static async Task<double> TimeAsync(Func<Task> call)
    {
        var start = Stopwatch.GetTimestamp();
        await call();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>A body of <c>size</c> bytes: one random 256 KiB block sent over and over, never held whole.</summary>
    private sealed class RepeatingContent(long size, bool declareLength) : HttpContent
    {
        private static readonly byte[] s_block = MakeBlock();

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            for (long sent = 0; sent < size;)
            {
                var count = (int)Math.Min(s_block.Length, size - sent);
                await stream.WriteAsync(s_block.AsMemory(0, count), cancellationToken);
                sent += count;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = size;
            return declareLength;
        }

        private static byte[] MakeBlock()
        {
            var block = new byte[ChunkBytes];
            Random.Shared.NextBytes(block);
            return block;
        }
    }
}
