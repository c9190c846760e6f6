using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using SiteX.Benchmarks.Infrastructure;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>queue-throughput</c> (targets Q1, Q2): site A (9999) and site B (10000), two real <c>sitex serve</c> processes.
/// 16 topics; per topic one push in flight at A for party 10000 (relayed to B, stored durably there before the ack) and
/// one consumer popping at B. Reports end-to-end messages/s and MB/s (first push to last pop) and each gateway's CPU
/// time per message from /proc/PID/stat. Not pinned: three busy processes on two cores.
/// </summary>
internal static class QueueThroughputScenario
{
    public static async Task<int> RunAsync(BenchArgs options, CancellationToken ct)
    {
        var topics = options.Int("topics", 16);
        var size = options.Int("size", 1024);
        var count = options.Int("count", size >= 1 << 20 ? 2000 : 32_000) / topics * topics;
        var rounds = options.Int("rounds", 3);
        var warmup = options.Int("warmup", size >= 1 << 20 ? 200 : 8000) / topics * topics;
        var popTimeoutMs = options.Int("pop-timeout-ms", 5000);
        Console.WriteLine($"# queue-throughput: {count} messages of {size} B per round, {topics} topics, one push in flight per topic at {QueueSites.PartyA} for {QueueSites.PartyB}, " +
            $"{topics} consumers popping at {QueueSites.PartyB} (timeout {popTimeoutMs} ms), {rounds} rounds after {warmup} warm-up messages; load average {StoreScenario.LoadAverage()}");

        using var sites = await QueueSites.StartAsync("qtp");
        Console.WriteLine($"site {QueueSites.PartyA} pid {sites.A.Id} port {sites.A.GrpcPort}; site {QueueSites.PartyB} pid {sites.B.Id} port {sites.B.GrpcPort}");
        var payload = new byte[size];
        Random.Shared.NextBytes(payload);
        var bytes = UnsafeByteOperations.UnsafeWrap(payload);

        await RunRoundAsync(sites, "warmup", topics, warmup, bytes, popTimeoutMs, ct);
        await sites.QuiesceAsync(ct);

        var table = new MarkdownTable("round", "size", "messages", "msg/s end to end", "MB/s", "push acks/s", "A CPU us/msg", "B CPU us/msg", "client CPU us/msg", "pop timeouts", "load (1 min)");
        var results = new List<(double PerSecond, double AckPerSecond, double CpuA, double CpuB, double CpuClient)>();
        using var self = Process.GetCurrentProcess();
        for (var round = 1; round <= rounds; round++)
        {
            var cpuA = ProcStats.CpuTime(sites.A.Id);
            var cpuB = ProcStats.CpuTime(sites.B.Id);
            var cpuClient = ProcStats.CpuTime(self.Id);
            var (seconds, pushSeconds, timeouts) = await RunRoundAsync(sites, "r" + round.ToString(CultureInfo.InvariantCulture), topics, count, bytes, popTimeoutMs, ct);
            await sites.QuiesceAsync(ct);
            var usA = (ProcStats.CpuTime(sites.A.Id) - cpuA).TotalMicroseconds / count;
            var usB = (ProcStats.CpuTime(sites.B.Id) - cpuB).TotalMicroseconds / count;
            var usClient = (ProcStats.CpuTime(self.Id) - cpuClient).TotalMicroseconds / count;
            results.Add((count / seconds, count / pushSeconds, usA, usB, usClient));
            table.Add(round.ToString(CultureInfo.InvariantCulture), Size(size), count.ToString(CultureInfo.InvariantCulture), Stats.F(count / seconds, "0"), Stats.F(count * (double)size / seconds / 1e6, "0"),
                Stats.F(count / pushSeconds, "0"), Stats.F(usA, "0"), Stats.F(usB, "0"), Stats.F(usClient, "0"), timeouts.ToString(CultureInfo.InvariantCulture), StoreScenario.LoadAverage());
            Console.WriteLine($"  round {round}: {count / seconds:0} msg/s, {count * (double)size / seconds / 1e6:0} MB/s, A {usA:0} us/msg, B {usB:0} us/msg, client {usClient:0} us/msg");
        }

        var median = Stats.Median(results.Select(r => r.PerSecond).ToArray());
        table.Add("**median**", Size(size), count.ToString(CultureInfo.InvariantCulture), Stats.F(median, "0"), Stats.F(median * size / 1e6, "0"), Stats.F(Stats.Median(results.Select(r => r.AckPerSecond).ToArray()), "0"),
            Stats.F(Stats.Median(results.Select(r => r.CpuA).ToArray()), "0"), Stats.F(Stats.Median(results.Select(r => r.CpuB).ToArray()), "0"),
            Stats.F(Stats.Median(results.Select(r => r.CpuClient).ToArray()), "0"), "", "");
        table.Print();
        Console.WriteLine($"RSS after: A {Stats.Mib(ProcStats.Rss(sites.A.Id))} MiB, B {Stats.Mib(ProcStats.Rss(sites.B.Id))} MiB; CPU per message from /proc/PID/stat (10 ms ticks) after the gateways went quiet; the client is this process (push and pop calls, both sites' channels)");
        if (options.Int("settle-seconds", 0) is > 0 and var settle)
        {
            await Task.Delay(TimeSpan.FromSeconds(settle), ct);
            Console.WriteLine($"RSS {settle} s after the run, the gateways idle: A {Stats.Mib(ProcStats.Rss(sites.A.Id))} MiB, B {Stats.Mib(ProcStats.Rss(sites.B.Id))} MiB");
            foreach (var (name, site) in new[] { ("A", sites.A), ("B", sites.B) })
            {
                var idleBlocks = await GatewayMetricsReader.ReadAsync(site.AdminPort, "sitex_io_buffers_idle_bytes", ct);
                var heap = await GatewayMetricsReader.ReadAsync(site.AdminPort, "dotnet_gc_last_collection_heap_size_bytes", ct);
                var collections = await GatewayMetricsReader.ReadAsync(site.AdminPort, "sitex_memory_idle_collections_total", ct);
                Console.WriteLine($"  {name}: idle I/O blocks {Stats.Mib((long)idleBlocks)} MiB, GC heap after the last collection {Stats.Mib((long)heap)} MiB, idle collections {collections}");
            }
        }
        return 0;
    }

    private static async Task<(double Seconds, double PushSeconds, int PopTimeouts)> RunRoundAsync(QueueSites sites, string session, int topics, int count, ByteString payload, int popTimeoutMs, CancellationToken ct)
    {
        var perTopic = count / topics;
        var pushHeaders = QueueSites.Headers(session, QueueSites.PartyB);
        var popHeaders = QueueSites.Headers(session, null);
        var timeouts = 0;
        var start = Stopwatch.GetTimestamp();
        var consumers = Enumerable.Range(0, topics).Select(async t =>
        {
            await Task.Yield();
            var topic = "t" + t.ToString(CultureInfo.InvariantCulture);
            for (var received = 0; received < perTopic;)
            {
                var message = await QueueSites.PopAsync(sites.ClientB, popHeaders, topic, popTimeoutMs, ct);
                if (message is null)
                {
                    if (Interlocked.Increment(ref timeouts) > 10 * topics)
                    {
                        throw new TimeoutException($"pops of {topic} keep timing out ({received} of {perTopic} received)");
                    }

                    continue;
                }

                if (message.Length != payload.Length)
                {
                    throw new InvalidOperationException($"popped {message.Length} bytes from {topic}, pushed {payload.Length}");
                }

                received++;
            }
        }).ToArray();
        var producers = Enumerable.Range(0, topics).Select(async t =>
        {
            await Task.Yield();
            var topic = "t" + t.ToString(CultureInfo.InvariantCulture);
            for (var i = 0; i < perTopic; i++)
            {
                await QueueSites.PushAsync(sites.ClientA, pushHeaders, topic, payload, ct);
            }

        }).ToArray();
        await Task.WhenAll(producers);
        var pushSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        await Task.WhenAll(consumers);
        return (Stopwatch.GetElapsedTime(start).TotalSeconds, pushSeconds, timeouts);
    }

    internal static string Size(int bytes) => bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : bytes >= 1024 && bytes % 1024 == 0 ? $"{bytes >> 10} KiB" : $"{bytes} B";
}
