using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using SiteX.Benchmarks.Infrastructure;
using SiteX.Server.Queues;
using SiteX.Server.Queues.Storage;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>store</c>: the durable queue store alone, in this process (the stack notes' engine comparison). N appenders,
/// one append in flight each, each on its own topic, for a fixed time; every append is acknowledged only when it is
/// durable. Reports appends/s, MB/s and ack latency. Each round opens a fresh store in a scratch directory under
/// <c>--dir</c> (default the temp directory) and deletes it afterwards.
/// </summary>
internal static class StoreScenario
{
    public static async Task<int> RunAsync(BenchArgs options, CancellationToken ct)
    {
        var appenders = options.Int("appenders", 16);
        var seconds = options.Int("seconds", 3);
        var rounds = options.Int("rounds", 3);
        var sizes = options.String("sizes", "1024,1048576").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var durability = Enum.Parse<QueueDurability>(options.String("durability", "Fsync"), ignoreCase: true);
        var root = options.String("dir", Path.GetTempPath());
        var preallocate = options.String("preallocation", "ZeroFill,Off").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => Enum.Parse<SegmentPreallocation>(p, ignoreCase: true)).ToArray();

        Console.WriteLine($"# store: {appenders} appenders, one append in flight each, {seconds} s per run, {rounds} rounds, sizes {string.Join('/', sizes)} B, {durability}, " +
            $"segment pre-allocation: {string.Join('/', preallocate)} (interleaved), store under {root}; load average {LoadAverage()}");

        var table = new MarkdownTable("round", "payload", "pre-allocation", "appends/s", "MB/s", "ack p50 ms", "ack p99 ms", "disk bytes at end", "load (1 min)");
        var results = new Dictionary<(int Size, SegmentPreallocation Pre), List<Result>>();
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var size in sizes)
            {
                var order = round % 2 == 1 ? preallocate : preallocate.Reverse().ToArray();
                foreach (var pre in order)
                {
                    var result = await RunOnceAsync(root, appenders, size, TimeSpan.FromSeconds(seconds), durability, pre, ct);
                    if (!results.TryGetValue((size, pre), out var list))
                    {
                        results[(size, pre)] = list = [];
                    }

                    list.Add(result);
                    table.Add(round.ToString(CultureInfo.InvariantCulture), Size(size), pre.ToString(), Stats.F(result.PerSecond, "0"), Stats.F(result.PerSecond * size / 1e6, "0"),
                        Stats.F(result.P50Ms, "0.00"), Stats.F(result.P99Ms, "0.00"), result.DiskBytes.ToString("N0", CultureInfo.InvariantCulture), LoadAverage());
                    Console.WriteLine($"  round {round} {Size(size)} {pre}: {result.PerSecond:0}/s p50 {result.P50Ms:0.00} ms p99 {result.P99Ms:0.00} ms");
                }
            }
        }

        foreach (var ((size, pre), list) in results.OrderBy(r => r.Key.Size).ThenBy(r => Array.IndexOf(preallocate, r.Key.Pre)))
        {
            var perSecond = Stats.Median(list.Select(r => r.PerSecond).ToArray());
            table.Add("**median**", Size(size), pre.ToString(), Stats.F(perSecond, "0"), Stats.F(perSecond * size / 1e6, "0"),
                Stats.F(Stats.Median(list.Select(r => r.P50Ms).ToArray()), "0.00"), Stats.F(Stats.Median(list.Select(r => r.P99Ms).ToArray()), "0.00"), "", "");
        }

        table.Print();
        return 0;
    }

    private static async Task<Result> RunOnceAsync(string root, int appenders, int size, TimeSpan duration, QueueDurability durability, SegmentPreallocation preallocation, CancellationToken ct)
    {
        var directory = Path.Combine(root, "sitex-bench-store-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        try
        {
            var store = new SegmentedLogStore(new QueueStoreOptions
            {
                Directory = Path.Combine(directory, "queues"),
                Durability = durability,
                Preallocation = preallocation,
                MaxDiskBytes = 64L << 30,
            }, NullLogger<SegmentedLogStore>.Instance, TimeProvider.System);
            await store.OpenAsync(ct);
            await using (store)
            {
                var payload = new byte[size];
                Random.Shared.NextBytes(payload);

                // Short warm-up (JIT, first segment), not measured.
                await Task.WhenAll(Enumerable.Range(0, appenders).Select(t => store.AppendAsync("bench", "warm" + t, null, payload, ct).AsTask()));

                var latencies = new List<double>[appenders];
                var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
                var start = Stopwatch.GetTimestamp();
                var workers = Enumerable.Range(0, appenders).Select(async t =>
                {
                    await Task.Yield();
                    var mine = latencies[t] = new List<double>(1 << 16);
                    var topic = "topic" + t.ToString(CultureInfo.InvariantCulture);
                    while (Stopwatch.GetTimestamp() < stopAt)
                    {
                        var callStart = Stopwatch.GetTimestamp();
                        await store.AppendAsync("bench", topic, null, payload, ct);
                        mine.Add(Stopwatch.GetElapsedTime(callStart).TotalMilliseconds);
                    }
                }).ToArray();
                await Task.WhenAll(workers);
                var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
                var all = latencies.SelectMany(l => l).ToArray();
                return new Result(all.Length / elapsed, Stats.Percentile(all, 50), Stats.Percentile(all, 99), store.DiskBytes);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Size(int bytes) => bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : bytes >= 1024 && bytes % 1024 == 0 ? $"{bytes >> 10} KiB" : $"{bytes} B";

    public static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private sealed record Result(double PerSecond, double P50Ms, double P99Ms, long DiskBytes);
}
